"""The election record: one JSON document from which anyone can re-verify the election.

Format ``ippyo/election-record`` version 1 (documented field by field in
``docs/election-record.md``). Serialisation is deterministic — sorted keys, no spaces, UTF-8,
fixed list orders — so two exports of the same election are byte-identical and the record can
be hashed and signed.

:func:`verify_record` re-checks everything from the record alone and returns a
:class:`VerificationReport` listing each check with counts; if any check fails it raises
:class:`~election.errors.InvalidRecord` carrying the same report, whose failures give the exact
reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from election import PROTOCOL_VERSION
from election.ballot import EncryptedBallot, open_challenged
from election.context import ElectionContext
from election.errors import ElectionError, EncodingError, InvalidRecord
from election.keyceremony import (
    Announcement,
    CeremonyResult,
    Complaint,
    EncryptedShare,
    verify_transcript,
)
from election.manifest import Manifest, canonical_json, manifest_from_dict
from election.primitives.blind_rsa import RSAPublicKey
from election.primitives.elgamal import Ciphertext, DiscreteLog
from election.primitives.group import Point
from election.primitives.proofs import ChaumPedersenProof, SchnorrProof
from election.tally import (
    DecryptionShare,
    EncryptedTally,
    combine,
    tally_ballots,
    verify_decryption_share,
)
from election.validity import CastBallot, Exclusion, select_ballots

FORMAT = "ippyo/election-record"


@dataclass(frozen=True)
class ChallengedBallot:
    ballot: bytes
    master_nonce: bytes


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

    # --- JSON ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        ctx = self.context
        tally = self.encrypted_tally
        out: dict[str, Any] = {
            "format": FORMAT,
            "version": PROTOCOL_VERSION,
            "manifest": self.manifest.to_dict(),
            "election_id": ctx.election_id.hex(),
            "parameters": {
                "group": "secp256k1",
                "trustees": self.trustees,
                "quorum": self.quorum,
                "revote_allowed": self.revote_allowed,
            },
            "chain": {"chain_id": self.chain_id, "contract": "0x" + self.contract_address.hex()},
            "registrar_key": {"n": f"{self.registrar_key.n:x}", "e": self.registrar_key.e},
            "ceremony": {
                "announcements": [
                    _announcement(a) for a in sorted(self.announcements, key=lambda a: a.trustee)
                ],
                "shares": [
                    {
                        "dealer": s.dealer,
                        "recipient": s.recipient,
                        "nonce": s.nonce.hex(),
                        "ciphertext": s.ciphertext.hex(),
                    }
                    for s in sorted(self.shares, key=lambda s: (s.dealer, s.recipient))
                ],
                "complaints": [
                    {
                        "accuser": c.accuser,
                        "accused": c.accused,
                        "shared_secret": c.shared_secret.hex(),
                        "proof": c.proof.to_bytes().hex(),
                    }
                    for c in sorted(self.complaints, key=lambda c: (c.accuser, c.accused))
                ],
            },
            "joint_public_key": self.joint_public_key.hex(),
            "base_hash": ctx.base_hash.hex(),
            "ballots": [
                {
                    "seq": b.seq,
                    "token": "0x" + b.token.hex(),
                    "token_signature": b.token_signature.hex(),
                    "binding_signature": b.binding_signature.hex(),
                    "ballot_hash": b.ballot_hash.hex(),
                    "ballot": b.ballot.hex(),
                }
                for b in sorted(self.ballots, key=lambda b: b.seq)
            ],
            "challenged": [
                {"ballot": c.ballot.hex(), "master_nonce": c.master_nonce.hex()}
                for c in self.challenged
            ],
            "excluded": [
                {
                    "seq": e.seq,
                    "ballot_hash": e.ballot_hash.hex(),
                    "code": e.code,
                    "message": e.message,
                }
                for e in sorted(self.excluded, key=lambda e: e.seq)
            ],
            "tally": None,
        }
        if tally is not None:
            out["tally"] = {
                "ballot_count": tally.ballot_count,
                "encrypted": [[ct.to_bytes().hex() for ct in row] for row in tally.totals],
                "decryption_shares": [
                    {
                        "trustee": d.trustee,
                        "shares": [[p.hex() for p in row] for row in d.shares],
                        "proofs": [[p.to_bytes().hex() for p in row] for row in d.proofs],
                    }
                    for d in sorted(self.decryption_shares, key=lambda d: d.trustee)
                ],
                "result": None
                if self.result is None
                else {
                    contest.id: {o.id: n for o, n in zip(contest.options, row, strict=True)}
                    for contest, row in zip(self.manifest.contests, self.result, strict=True)
                },
            }
        return out

    def to_json(self) -> bytes:
        return canonical_json(self.to_dict()) + b"\n"

    @staticmethod
    def from_json(data: bytes) -> ElectionRecord:
        try:
            raw = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise EncodingError(f"the record is not JSON: {exc}") from exc
        return record_from_dict(raw)


def _announcement(a: Announcement) -> dict[str, Any]:
    return {
        "trustee": a.trustee,
        "aux_public_key": a.aux_public_key.hex(),
        "commitments": [c.hex() for c in a.commitments],
        "proofs": [p.to_bytes().hex() for p in a.proofs],
    }


def _hex(value: Any, where: str) -> bytes:
    if not isinstance(value, str):
        raise EncodingError(f"{where}: must be a hex string")
    text = value[2:] if value.startswith("0x") else value
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise EncodingError(f"{where}: not hexadecimal") from exc


def _get(d: Any, key: str, where: str) -> Any:
    if not isinstance(d, dict) or key not in d:
        raise EncodingError(f"{where}.{key}: missing")
    return d[key]


def record_from_dict(raw: Any) -> ElectionRecord:
    """Parse a record; :class:`EncodingError` names the field that is wrong."""
    if _get(raw, "format", "record") != FORMAT:
        raise EncodingError(f"record.format: not an {FORMAT}")
    if _get(raw, "version", "record") != PROTOCOL_VERSION:
        raise EncodingError(f"record.version: this verifier reads version {PROTOCOL_VERSION}")
    manifest = manifest_from_dict(_get(raw, "manifest", "record"))
    params = _get(raw, "parameters", "record")
    chain = _get(raw, "chain", "record")
    rk = _get(raw, "registrar_key", "record")
    cer = _get(raw, "ceremony", "record")
    announcements = tuple(
        Announcement(
            int(a["trustee"]),
            Point.from_hex(a["aux_public_key"]),
            tuple(Point.from_hex(c) for c in a["commitments"]),
            tuple(SchnorrProof.from_bytes(_hex(p, "proof")) for p in a["proofs"]),
        )
        for a in _get(cer, "announcements", "ceremony")
    )
    shares = tuple(
        EncryptedShare(
            int(s["dealer"]),
            int(s["recipient"]),
            _hex(s["nonce"], "nonce"),
            _hex(s["ciphertext"], "ciphertext"),
        )
        for s in _get(cer, "shares", "ceremony")
    )
    complaints = tuple(
        Complaint(
            int(c["accuser"]),
            int(c["accused"]),
            Point.from_hex(c["shared_secret"]),
            ChaumPedersenProof.from_bytes(_hex(c["proof"], "proof")),
        )
        for c in _get(cer, "complaints", "ceremony")
    )
    ballots = tuple(
        CastBallot(
            int(b["seq"]),
            _hex(b["token"], "token"),
            _hex(b["token_signature"], "token_signature"),
            _hex(b["binding_signature"], "binding_signature"),
            _hex(b["ballot"], "ballot"),
        )
        for b in _get(raw, "ballots", "record")
    )
    challenged = tuple(
        ChallengedBallot(_hex(c["ballot"], "ballot"), _hex(c["master_nonce"], "master_nonce"))
        for c in _get(raw, "challenged", "record")
    )
    excluded = tuple(
        Exclusion(
            int(e["seq"]), _hex(e["ballot_hash"], "ballot_hash"), str(e["code"]), str(e["message"])
        )
        for e in _get(raw, "excluded", "record")
    )
    tally_raw = _get(raw, "tally", "record")
    tally = None
    dshares: tuple[DecryptionShare, ...] = ()
    result = None
    if tally_raw is not None:
        tally = EncryptedTally(
            int(tally_raw["ballot_count"]),
            tuple(
                tuple(Ciphertext.from_bytes(_hex(ct, "ciphertext")) for ct in row)
                for row in tally_raw["encrypted"]
            ),
        )
        dshares = tuple(
            DecryptionShare(
                int(d["trustee"]),
                tuple(tuple(Point.from_hex(p) for p in row) for row in d["shares"]),
                tuple(
                    tuple(ChaumPedersenProof.from_bytes(_hex(p, "proof")) for p in row)
                    for row in d["proofs"]
                ),
            )
            for d in tally_raw["decryption_shares"]
        )
        if tally_raw.get("result") is not None:
            res = tally_raw["result"]
            result = tuple(
                tuple(
                    int(_get(_get(res, c.id, "result"), o.id, f"result.{c.id}")) for o in c.options
                )
                for c in manifest.contests
            )
    try:
        record = ElectionRecord(
            manifest,
            int(params["trustees"]),
            int(params["quorum"]),
            bool(params["revote_allowed"]),
            int(chain["chain_id"]),
            _hex(chain["contract"], "contract"),
            RSAPublicKey(int(rk["n"], 16), int(rk["e"])),
            announcements,
            shares,
            complaints,
            Point.from_hex(_get(raw, "joint_public_key", "record")),
            ballots,
            challenged,
            excluded,
            tally,
            dshares,
            result,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise EncodingError(f"record: {exc}") from exc
    return record


# --- verification -------------------------------------------------------------------------------
@dataclass
class Check:
    name: str
    count: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass
class VerificationReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def failures(self) -> list[str]:
        return [f"{c.name}: {f}" for c in self.checks for f in c.failures]

    def summary(self) -> str:
        lines = []
        for c in self.checks:
            mark = "OK  " if c.ok else "FAIL"
            lines.append(f"{mark} {c.name} ({c.count})")
            lines += [f"     - {f}" for f in c.failures]
        return "\n".join(lines)


def verify_record(
    record: ElectionRecord, *, progress: Callable[[str], None] | None = None
) -> VerificationReport:
    """Re-check the whole record. Returns the report, or raises :class:`InvalidRecord` with it."""
    report = VerificationReport()

    def check(name: str) -> Check:
        if progress is not None:
            progress(name)
        c = Check(name)
        report.checks.append(c)
        return c

    # 1. key ceremony
    c = check("key ceremony")
    ceremony: CeremonyResult | None = None
    try:
        ceremony = verify_transcript(
            record.manifest.election_id,
            record.trustees,
            record.quorum,
            record.announcements,
            record.shares,
            record.complaints,
        )
        c.count = len(record.announcements)
        if ceremony.joint_public_key != record.joint_public_key:
            c.failures.append("the joint public key is not the sum of the qualified commitments")
    except ElectionError as exc:
        c.failures.append(str(exc))
    ctx = record.context

    # 2. cast ballots
    c = check("ballots (token signature, binding, proofs, uniqueness)")
    selection = select_ballots(ctx, record.ballots)
    c.count = len(record.ballots)
    recorded = {(e.seq, e.code) for e in record.excluded}
    computed = {(e.seq, e.code) for e in selection.excluded}
    for e in selection.excluded:
        if (e.seq, e.code) not in recorded:
            c.failures.append(
                f"ballot #{e.seq} is invalid ({e.code}: {e.message}) "
                "but the record does not exclude it"
            )
    for seq, code in sorted(recorded - computed):
        c.failures.append(f"ballot #{seq} is excluded as '{code}' but it is valid")
    c_counted = check("counted ballots")
    c_counted.count = len(selection.counted)

    # 3. challenged ballots
    c = check("challenged ballots open consistently")
    for i, ch in enumerate(record.challenged):
        try:
            ballot = EncryptedBallot.from_bytes(ch.ballot, record.manifest)
            open_challenged(ctx, ballot, ch.master_nonce)
            c.count += 1
        except ElectionError as exc:
            c.failures.append(f"challenged ballot {i}: {exc}")

    # 4. the encrypted tally
    tally = record.encrypted_tally
    c = check("encrypted tally = sum of counted ballots")
    expected = tally_ballots(ctx, [b for _, b in selection.counted])
    if tally is None:
        if record.result is not None:
            c.failures.append("a result is published without an encrypted tally")
    else:
        c.count = tally.ballot_count
        if tally != expected:
            c.failures.append("the published encrypted tally is not the sum of the counted ballots")

    # 5. decryption shares and the result
    if tally is not None:
        c = check("decryption shares (Chaum–Pedersen proofs)")
        good: list[DecryptionShare] = []
        for share in record.decryption_shares:
            public = ceremony.public_shares.get(share.trustee) if ceremony else None
            if public is None:
                c.failures.append(f"trustee {share.trustee} is not a trustee of this election")
                continue
            try:
                verify_decryption_share(ctx, share, public, tally)
                good.append(share)
            except ElectionError as exc:
                c.failures.append(f"trustee {share.trustee}: {exc}")
        c.count = len(good)
        c = check("result")
        try:
            counts = combine(ctx, tally, good, DiscreteLog(tally.ballot_count))
            c.count = sum(sum(row) for row in counts)
            if record.result is None:
                c.failures.append("no result is published")
            elif counts != record.result:
                c.failures.append(
                    f"published result {_fmt(record.result)} but the decryption "
                    f"gives {_fmt(counts)}"
                )
        except ElectionError as exc:
            c.failures.append(str(exc))
    if not report.ok:
        raise InvalidRecord("; ".join(report.failures()), report)
    return report


def _fmt(counts: Sequence[Sequence[int]]) -> str:
    return "/".join(",".join(str(n) for n in row) for row in counts)
