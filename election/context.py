"""The election context: everything a ballot depends on, and its base hash.

The base hash binds every Fiat–Shamir challenge and every ballot to one election on one chain:
the manifest, the trustee parameters (n, k), the joint public key, the registrar's RSA key,
the re-vote policy, the chain id and the BallotBox contract's address. A proof made for any
other combination does not verify.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from election import PROTOCOL_VERSION
from election.errors import EncodingError
from election.manifest import Manifest
from election.primitives.blind_rsa import RSAPublicKey
from election.primitives.group import Point
from election.primitives.hashing import hash_bytes


@dataclass(frozen=True)
class ElectionContext:
    manifest: Manifest
    trustees: int
    """n: how many trustees hold shares of the election key."""
    quorum: int
    """k: how many trustees must take part to decrypt."""
    joint_public_key: Point
    """K: the election public key, Σ of the qualified trustees' constant commitments."""
    registrar_key: RSAPublicKey
    chain_id: int
    contract_address: bytes
    revote_allowed: bool = False
    base_hash: bytes = field(init=False, repr=False)
    election_id: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.quorum <= self.trustees:
            raise EncodingError(f"quorum must be between 1 and {self.trustees}")
        if len(self.contract_address) != 20:
            raise EncodingError("a contract address is 20 bytes")
        if self.joint_public_key.is_identity:
            raise EncodingError("the joint public key cannot be the identity")
        election_id = self.manifest.election_id
        base = hash_bytes(
            "ippyo/base-hash",
            PROTOCOL_VERSION,
            election_id,
            self.trustees,
            self.quorum,
            self.joint_public_key,
            self.registrar_key.modulus_bytes(),
            self.registrar_key.exponent_bytes(),
            1 if self.revote_allowed else 0,
            self.chain_id,
            self.contract_address,
        )
        object.__setattr__(self, "election_id", election_id)
        object.__setattr__(self, "base_hash", base)
