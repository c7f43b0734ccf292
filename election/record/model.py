"""The election record's data model (no JSON here: see :mod:`election.record.codec`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from election.context import ElectionContext
from election.keyceremony import Announcement, Complaint, EncryptedShare
from election.manifest import Manifest
from election.primitives.blind_rsa import RSAPublicKey
from election.primitives.group import Point
from election.primitives.hashing import sha256
from election.tally import DecryptionShare, EncryptedTally
from election.validity import CastBallot, Exclusion

FORMAT = "ippyo/election-record"
RECORD_VERSION = 2


@dataclass(frozen=True, slots=True)
class ChallengedBallot:
    """A checked (Benaloh-challenged) ballot as the chain recorded it (BallotChallenged)."""

    seq: int
    """Position in the chain's order of challenges (0, 1, 2, ...; its own counter)."""
    ballot: bytes
    master_nonce: bytes

    @property
    def ballot_hash(self) -> bytes:
        return sha256(self.ballot)


@dataclass(frozen=True, slots=True)
class ChainAnchor:
    """What the chain says it holds, so a verifier with the chain can prove nothing is missing."""

    ballot_count: int
    """The contract's ``ballotCount``: ballots cast have seq 0..ballot_count−1."""
    checked_count: int
    """The contract's ``challengedCount``: checked ballots have seq 0..checked_count−1."""
    first_block: int
    """The block that created the contract (first block searched for events)."""
    last_block: int
    """The block at which the chain was read (after the election closed)."""


@dataclass(frozen=True)
class ElectionRecord:
    manifest: Manifest
    trustees: int
    quorum: int
    revote_allowed: bool
    chain_id: int
    contract_address: bytes
    registrar_key: RSAPublicKey
    announcements: tuple[Announcement, ...]
    shares: tuple[EncryptedShare, ...]
    complaints: tuple[Complaint, ...]
    joint_public_key: Point
    ballots: tuple[CastBallot, ...]
    anchor: ChainAnchor
    challenged: tuple[ChallengedBallot, ...] = ()
    excluded: tuple[Exclusion, ...] = ()
    encrypted_tally: EncryptedTally | None = None
    decryption_shares: tuple[DecryptionShare, ...] = ()
    result: tuple[tuple[int, ...], ...] | None = None

    @property
    def context(self) -> ElectionContext:
        return ElectionContext(
            self.manifest,
            self.trustees,
            self.quorum,
            self.joint_public_key,
            self.registrar_key,
            self.chain_id,
            self.contract_address,
            self.revote_allowed,
        )

    def to_dict(self) -> dict[str, Any]:
        from election.record.codec import record_to_dict

        return record_to_dict(self)

    def to_json(self) -> bytes:
        from election.record.codec import record_to_json

        return record_to_json(self)

    @staticmethod
    def from_json(data: bytes) -> ElectionRecord:
        from election.record.codec import record_from_json

        return record_from_json(data)
