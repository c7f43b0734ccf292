"""Build honest election records in process (no chain): the base every alteration starts from."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from election import token as tokens
from election.ballot import EncryptedBallot, PlaintextBallot, encrypt_ballot
from election.context import ElectionContext
from election.keyceremony import Trustee, run_ceremony
from election.manifest import Manifest
from election.primitives import blind_rsa
from election.record import ChainAnchor, ChallengedBallot, ElectionRecord
from election.tally import compute_decryption_share, tally_ballots
from election.validity import CastBallot, select_ballots

CHAIN_ID, CONTRACT = 1337, b"\x42" * 20


def mint(
    ctx: ElectionContext, key: blind_rsa.RSAPrivateKey, voter: int
) -> tuple[tokens.TokenKey, bytes]:
    card_signature = hashlib.sha512(f"card {voter}".encode()).digest() * 4
    token, blinded = tokens.blind_token(key.public_key, ctx.election_id, card_signature)
    sig = blind_rsa.blind_sign(key, blinded.blinded_msg)
    return token, tokens.finalize_token(key.public_key, ctx.election_id, token, sig, blinded)


@dataclass
class Builder:
    """An election in progress: cast/challenge ballots, then ``record()``."""

    manifest: Manifest
    key: blind_rsa.RSAPrivateKey
    revote: bool = False
    withhold: tuple[int, int] | None = None
    cast: list[CastBallot] = field(default_factory=list)
    challenged: list[ChallengedBallot] = field(default_factory=list)

    def __post_init__(self) -> None:
        people, ann, shares, complaints, result = run_ceremony(
            self.manifest.election_id, 5, 3, withhold=self.withhold
        )
        self.trustees: list[Trustee] = people
        self.announcements, self.shares, self.complaints = ann, shares, complaints
        self.ctx = ElectionContext(
            self.manifest,
            5,
            3,
            result.joint_public_key,
            self.key.public_key,
            CHAIN_ID,
            CONTRACT,
            self.revote,
        )
        self.qualified = result.qualified

    def encrypt(self, choices: dict[str, list[str]]) -> EncryptedBallot:
        plain = PlaintextBallot.from_choices(self.manifest, choices)
        return encrypt_ballot(self.ctx, plain, secrets.token_bytes(32))

    def cast_bytes(self, voter: int, ballot: bytes) -> CastBallot:
        token, token_sig = mint(self.ctx, self.key, voter)
        binding = tokens.sign_binding(token, CHAIN_ID, CONTRACT, hashlib.sha256(ballot).digest())
        c = CastBallot(len(self.cast), token.address, token_sig, binding, ballot)
        self.cast.append(c)
        return c

    def vote(self, voter: int, choices: dict[str, list[str]]) -> CastBallot:
        return self.cast_bytes(voter, self.encrypt(choices).to_bytes())

    def challenge(self, choices: dict[str, list[str]]) -> tuple[ChallengedBallot, EncryptedBallot]:
        nonce = secrets.token_bytes(32)
        ballot = encrypt_ballot(
            self.ctx, PlaintextBallot.from_choices(self.manifest, choices), nonce
        )
        ch = ChallengedBallot(len(self.challenged), ballot.to_bytes(), nonce)
        self.challenged.append(ch)
        return ch, ballot

    def record(self, present: Sequence[int] = (1, 2, 4, 5)) -> ElectionRecord:
        selection = select_ballots(self.ctx, self.cast, {c.ballot_hash for c in self.challenged})
        tally = tally_ballots(self.ctx, [b for _, b in selection.counted])
        shares = tuple(
            compute_decryption_share(
                self.ctx, t.index, t.secret_share, tally, secrets.token_bytes(32)
            )
            for t in self.trustees
            if t.index in present
        )
        from election.tally import combine

        result = combine(self.ctx, tally, shares)
        return ElectionRecord(
            self.manifest,
            5,
            3,
            self.revote,
            CHAIN_ID,
            CONTRACT,
            self.key.public_key,
            tuple(self.announcements),
            tuple(self.shares),
            tuple(self.complaints),
            self.ctx.joint_public_key,
            tuple(self.cast),
            ChainAnchor(len(self.cast), len(self.challenged), 10, 20 + len(self.cast)),
            tuple(self.challenged),
            selection.excluded,
            tally,
            shares,
            result,
        )


def honest_builder(manifest: Manifest, key: blind_rsa.RSAPrivateKey, **kw: object) -> Builder:
    """Six voters, one checked ballot, one ballot with a broken proof."""
    b = Builder(manifest, key, **kw)  # type: ignore[arg-type]
    b.vote(0, {"mayor": ["m0"], "council": ["c1", "c2"]})
    b.vote(1, {"mayor": ["m1"], "council": []})
    b.challenge({"mayor": ["m2"], "council": ["c0"]})
    b.vote(2, {"mayor": ["m2"], "council": ["c0"]})
    raw = bytearray(b.encrypt({"mayor": ["m0"], "council": ["c3"]}).to_bytes())
    raw[36 + 66 + 5] ^= 1  # a broken kiosk corrupts one proof
    b.cast_bytes(3, bytes(raw))
    b.vote(4, {"mayor": ["m0"], "council": ["c3"]})
    return b
