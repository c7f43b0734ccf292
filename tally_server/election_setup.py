"""The election setup: everything the tally server must know before the first ballot.

Format ``ippyo/election-setup`` version 1 — the header of the election record
(docs/election-record.md) without ballots and tally, plus the contract's creation block:

    format, version, manifest, manifest_hash, election_id, parameters{group, trustees, quorum,
    revote_allowed}, chain{chain_id, contract, first_block}, registrar_key{n, e},
    ceremony{announcements, shares, complaints}, joint_public_key, base_hash

Fields have exactly the record's encoding and checks (the record's strict readers parse them:
unknown or missing fields, bad hex and every stored hash are refused with the JSON path).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from election.context import ElectionContext
from election.errors import ElectionError, EncodingError
from election.keyceremony import Announcement, Complaint, EncryptedShare
from election.manifest import canonical_json
from election.primitives.blind_rsa import RSAPublicKey
from election.primitives.hashing import sha256
from election.record import codec
from election.record.model import ChainAnchor, ChallengedBallot, ElectionRecord
from election.tally import DecryptionShare, EncryptedTally
from election.validity import CastBallot, Exclusion

FORMAT = "ippyo/election-setup"
VERSION = 1
_TOP = {
    "format",
    "version",
    "manifest",
    "manifest_hash",
    "election_id",
    "parameters",
    "chain",
    "registrar_key",
    "ceremony",
    "joint_public_key",
    "base_hash",
}


@dataclass(frozen=True)
class ElectionSetup:
    context: ElectionContext
    first_block: int
    """The block that created the BallotBox contract: the indexer starts there."""
    announcements: tuple[Announcement, ...]
    shares: tuple[EncryptedShare, ...]
    complaints: tuple[Complaint, ...]

    @property
    def contract_hex(self) -> str:
        return "0x" + self.context.contract_address.hex()

    def record(
        self,
        ballots: tuple[CastBallot, ...],
        anchor: ChainAnchor,
        challenged: tuple[ChallengedBallot, ...] = (),
        excluded: tuple[Exclusion, ...] = (),
        encrypted_tally: EncryptedTally | None = None,
        decryption_shares: tuple[DecryptionShare, ...] = (),
        result: tuple[tuple[int, ...], ...] | None = None,
    ) -> ElectionRecord:
        ctx = self.context
        return ElectionRecord(
            ctx.manifest,
            ctx.trustees,
            ctx.quorum,
            ctx.revote_allowed,
            ctx.chain_id,
            ctx.contract_address,
            ctx.registrar_key,
            self.announcements,
            self.shares,
            self.complaints,
            ctx.joint_public_key,
            ballots,
            anchor,
            challenged,
            excluded,
            encrypted_tally,
            decryption_shares,
            result,
        )

    def to_dict(self) -> dict[str, Any]:
        full = self.record((), ChainAnchor(0, 0, self.first_block, self.first_block)).to_dict()
        out = {k: full[k] for k in _TOP - {"format", "version"}}
        out["chain"] = {
            "chain_id": full["chain"]["chain_id"],
            "contract": full["chain"]["contract"],
            "first_block": self.first_block,
        }
        return {"format": FORMAT, "version": VERSION, **out}

    def to_json(self) -> bytes:
        return canonical_json(self.to_dict()) + b"\n"


def setup_from_json(data: bytes) -> ElectionSetup:
    """Parse a setup file strictly: an :class:`ElectionSetup` or an :class:`EncodingError`."""
    try:
        raw = json.loads(bytes(data).decode("utf-8"), object_pairs_hook=codec._no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise EncodingError(f"setup: not UTF-8 JSON ({exc})") from exc
    try:
        return _parse(raw)
    except RecursionError as exc:
        raise EncodingError("setup: nested too deeply") from exc


def load_setup(path: Path) -> ElectionSetup:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EncodingError(f"setup: cannot read {path}: {exc.strerror}") from exc
    return setup_from_json(data)


def _parse(raw: Any) -> ElectionSetup:
    p = "setup"
    top = codec._obj(raw, p, _TOP)
    if top["format"] != FORMAT:
        raise codec._fail(f"{p}.format", f"must be {FORMAT!r}")
    if codec._int(top["version"], f"{p}.version") != VERSION:
        raise codec._fail(f"{p}.version", f"this server reads version {VERSION}")
    manifest = codec._manifest(top["manifest"], f"{p}.manifest")
    codec._same(
        codec._hex(top["manifest_hash"], f"{p}.manifest_hash", 32),
        sha256(manifest.canonical_bytes()),
        f"{p}.manifest_hash",
        "SHA-256 of the canonical manifest",
    )
    codec._same(
        codec._hex(top["election_id"], f"{p}.election_id", 32),
        manifest.election_id,
        f"{p}.election_id",
        "election id",
    )
    params = codec._obj(
        top["parameters"], f"{p}.parameters", {"group", "trustees", "quorum", "revote_allowed"}
    )
    if params["group"] != "secp256k1":
        raise codec._fail(f"{p}.parameters.group", "must be 'secp256k1'")
    trustees = codec._int(params["trustees"], f"{p}.parameters.trustees", 1, codec.MAX_TRUSTEES)
    quorum = codec._int(params["quorum"], f"{p}.parameters.quorum", 1, trustees)
    revote = codec._bool(params["revote_allowed"], f"{p}.parameters.revote_allowed")
    cp = f"{p}.chain"
    chain = codec._obj(top["chain"], cp, {"chain_id", "contract", "first_block"})
    chain_id = codec._int(chain["chain_id"], f"{cp}.chain_id", 1)
    contract = codec._address(chain["contract"], f"{cp}.contract")
    first_block = codec._int(chain["first_block"], f"{cp}.first_block")
    rp = f"{p}.registrar_key"
    rk = codec._obj(top["registrar_key"], rp, {"n", "e"})
    n_text = codec._str(rk["n"], f"{rp}.n", codec.MAX_RSA_BITS // 4)
    if not codec._MODULUS.fullmatch(n_text):
        raise codec._fail(f"{rp}.n", "must be lowercase hexadecimal without leading zeros")
    e = codec._int(rk["e"], f"{rp}.e", 1, (1 << 32) - 1)
    registrar_key = codec._decode(rp, lambda: RSAPublicKey(int(n_text, 16), e))
    announcements, shares, complaints = codec._ceremony(
        top["ceremony"], f"{p}.ceremony", trustees, quorum
    )
    joint = codec._point(top["joint_public_key"], f"{p}.joint_public_key")
    if joint.is_identity:
        raise codec._fail(f"{p}.joint_public_key", "must not be the identity")
    try:
        ctx = ElectionContext(
            manifest, trustees, quorum, joint, registrar_key, chain_id, contract, revote
        )
    except ElectionError as exc:
        raise codec._fail(p, str(exc)) from exc
    codec._same(
        codec._hex(top["base_hash"], f"{p}.base_hash", 32),
        ctx.base_hash,
        f"{p}.base_hash",
        "base hash",
    )
    return ElectionSetup(ctx, first_block, announcements, shares, complaints)
