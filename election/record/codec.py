"""Canonical JSON export and strict, total parsing of the election record (version 2).

Parsing never trusts a field it can recompute: every stored hash (``manifest_hash``,
``election_id``, ``base_hash``, each ballot's ``ballot_hash`` and ``tracking_code``) is
recomputed and compared. Unknown fields, duplicate keys, non-integer numbers (``7.9``, ``true``
where a count is due), upper-case or odd-length hex, lists out of their canonical order and a
missing tally are refused. Any input gives an :class:`ElectionRecord` or an
:class:`~election.errors.EncodingError` whose message starts with the JSON path at fault
(``record.ballots[3].ballot_hash: ...``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from election.ballot import tracking_code
from election.context import ElectionContext
from election.errors import ElectionError, EncodingError
from election.keyceremony import Announcement, Complaint, EncryptedShare
from election.manifest import Manifest, canonical_json, manifest_from_dict
from election.primitives.blind_rsa import RSAPublicKey
from election.primitives.elgamal import Ciphertext
from election.primitives.group import Point
from election.primitives.hashing import sha256
from election.primitives.proofs import ChaumPedersenProof, SchnorrProof
from election.record.model import (
    FORMAT,
    RECORD_VERSION,
    ChainAnchor,
    ChallengedBallot,
    ElectionRecord,
)
from election.tally import DecryptionShare, EncryptedTally
from election.validity import CastBallot, Exclusion

T = TypeVar("T")

MAX_TRUSTEES = 100
MAX_INT = (1 << 63) - 1
"""Counts, sequence numbers, block numbers and the chain id are at most 2^63 − 1."""
MAX_RSA_BITS = 8192
"""Parsing bound only; the verifier's ``registrar key`` check demands 2048–4096 bits."""
MAX_DEPTH = 64
"""JSON nesting accepted (a record nests 6 deep). Checked before ``json.loads``: a process that
imported py-evm or py_ecc runs with a recursion limit of 100 000, at which a deeply nested
document overflows the C stack (a crash, not an exception)."""
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_HEX = re.compile(r"[0-9a-f]*")
_ADDRESS = re.compile(r"0x[0-9a-f]{40}")
_MODULUS = re.compile(r"[1-9a-f][0-9a-f]*")


# --- export -------------------------------------------------------------------------------------
def record_to_dict(record: ElectionRecord) -> dict[str, Any]:
    manifest = record.manifest
    ctx = record.context
    tally = record.encrypted_tally
    out: dict[str, Any] = {
        "format": FORMAT,
        "version": RECORD_VERSION,
        "manifest": manifest.to_dict(),
        "manifest_hash": sha256(manifest.canonical_bytes()).hex(),
        "election_id": ctx.election_id.hex(),
        "parameters": {
            "group": "secp256k1",
            "trustees": record.trustees,
            "quorum": record.quorum,
            "revote_allowed": record.revote_allowed,
        },
        "chain": {
            "chain_id": record.chain_id,
            "contract": "0x" + record.contract_address.hex(),
            "ballot_count": record.anchor.ballot_count,
            "checked_count": record.anchor.checked_count,
            "first_block": record.anchor.first_block,
            "last_block": record.anchor.last_block,
        },
        "registrar_key": {"n": f"{record.registrar_key.n:x}", "e": record.registrar_key.e},
        "ceremony": ceremony_to_dict(record.announcements, record.shares, record.complaints),
        "joint_public_key": record.joint_public_key.hex(),
        "base_hash": ctx.base_hash.hex(),
        "ballots": [
            {
                "seq": b.seq,
                "token": "0x" + b.token.hex(),
                "token_signature": b.token_signature.hex(),
                "binding_signature": b.binding_signature.hex(),
                "ballot_hash": b.ballot_hash.hex(),
                "tracking_code": tracking_code(b.ballot_hash),
                "ballot": b.ballot.hex(),
            }
            for b in sorted(record.ballots, key=lambda b: b.seq)
        ],
        "challenged": [
            {
                "seq": c.seq,
                "ballot_hash": c.ballot_hash.hex(),
                "tracking_code": tracking_code(c.ballot_hash),
                "ballot": c.ballot.hex(),
                "master_nonce": c.master_nonce.hex(),
            }
            for c in sorted(record.challenged, key=lambda c: c.seq)
        ],
        "excluded": [
            {"seq": e.seq, "ballot_hash": e.ballot_hash.hex(), "code": e.code, "message": e.message}
            for e in sorted(record.excluded, key=lambda e: e.seq)
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
                for d in sorted(record.decryption_shares, key=lambda d: d.trustee)
            ],
            "result": None
            if record.result is None
            else {
                contest.id: {o.id: n for o, n in zip(contest.options, row, strict=True)}
                for contest, row in zip(manifest.contests, record.result, strict=True)
            },
        }
    return out


def announcement_to_dict(a: Announcement) -> dict[str, Any]:
    return {
        "trustee": a.trustee,
        "aux_public_key": a.aux_public_key.hex(),
        "commitments": [c.hex() for c in a.commitments],
        "proofs": [p.to_bytes().hex() for p in a.proofs],
    }


def share_to_dict(s: EncryptedShare) -> dict[str, Any]:
    return {
        "dealer": s.dealer,
        "recipient": s.recipient,
        "nonce": s.nonce.hex(),
        "ciphertext": s.ciphertext.hex(),
    }


def complaint_to_dict(c: Complaint) -> dict[str, Any]:
    return {
        "accuser": c.accuser,
        "accused": c.accused,
        "shared_secret": c.shared_secret.hex(),
        "proof": c.proof.to_bytes().hex(),
    }


def ceremony_to_dict(
    announcements: Sequence[Announcement],
    shares: Sequence[EncryptedShare],
    complaints: Sequence[Complaint],
) -> dict[str, Any]:
    """The key ceremony's transcript in canonical order: the record's ``ceremony`` section,
    an election plan's, and the trustee exchange's transcript."""
    return {
        "announcements": [
            announcement_to_dict(a) for a in sorted(announcements, key=lambda a: a.trustee)
        ],
        "shares": [share_to_dict(s) for s in sorted(shares, key=lambda s: (s.dealer, s.recipient))],
        "complaints": [
            complaint_to_dict(c) for c in sorted(complaints, key=lambda c: (c.accuser, c.accused))
        ],
    }


def record_to_json(record: ElectionRecord) -> bytes:
    return canonical_json(record_to_dict(record)) + b"\n"


# --- strict readers -----------------------------------------------------------------------------
def _fail(path: str, message: str) -> EncodingError:
    return EncodingError(f"{path}: {message}")


def _obj(value: Any, path: str, keys: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(path, "must be an object")
    missing = sorted(keys - set(value))
    if missing:
        raise _fail(f"{path}.{missing[0]}", "missing")
    unknown = sorted(set(value) - keys)
    if unknown:
        raise _fail(f"{path}.{unknown[0]}", "unknown field")
    return value


def _list(value: Any, path: str, length: int | None = None) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(path, "must be a list")
    if length is not None and len(value) != length:
        raise _fail(path, f"must have {length} entries, has {len(value)}")
    return value


def _int(value: Any, path: str, lo: int = 0, hi: int = MAX_INT) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(path, "must be a JSON integer")
    if not lo <= value <= hi:
        raise _fail(path, f"must be between {lo} and {hi}")
    return value


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(path, "must be true or false")
    return value


def _str(value: Any, path: str, max_len: int = 1000) -> str:
    if not isinstance(value, str):
        raise _fail(path, "must be a string")
    if len(value) > max_len:
        raise _fail(path, f"longer than {max_len} characters")
    return value


def _hex(value: Any, path: str, length: int | None = None) -> bytes:
    text = _str(value, path, max_len=1 << 24)
    if len(text) % 2 or not _HEX.fullmatch(text):
        raise _fail(path, "must be lowercase hexadecimal with an even number of digits")
    data = bytes.fromhex(text)
    if length is not None and len(data) != length:
        raise _fail(path, f"must be {length} bytes, is {len(data)}")
    return data


def _address(value: Any, path: str) -> bytes:
    text = _str(value, path)
    if not _ADDRESS.fullmatch(text):
        raise _fail(path, "must be 0x followed by 40 lowercase hex digits")
    return bytes.fromhex(text[2:])


def _decode(path: str, make: Callable[[], T]) -> T:
    """Run a primitive decoder; any refusal becomes an EncodingError naming ``path``."""
    try:
        return make()
    except (ElectionError, ValueError, TypeError, IndexError) as exc:
        raise _fail(path, str(exc) or type(exc).__name__) from exc


def _decode_bytes(path: str, make: Callable[[bytes], T], data: bytes) -> T:
    return _decode(path, lambda: make(data))


def _point(value: Any, path: str) -> Point:
    data = _hex(value, path, 33)
    return _decode(path, lambda: Point.from_bytes(data))


def _same(stored: bytes, computed: bytes, path: str, what: str) -> None:
    if stored != computed:
        raise _fail(path, f"does not match the recomputed {what}")


def _ascending(keys: list[Any], path: str) -> None:
    for i in range(1, len(keys)):
        if not keys[i - 1] < keys[i]:
            raise _fail(f"{path}[{i}]", "out of order or repeated (canonical order is ascending)")


# --- parsing ------------------------------------------------------------------------------------
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
    "ballots",
    "challenged",
    "excluded",
    "tally",
}


def too_deep(text: str, limit: int = MAX_DEPTH) -> bool:
    """Whether JSON ``text`` nests more than ``limit`` arrays/objects (strings skipped)."""
    depth = 0
    for ch in _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)):
        if ch in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _reject_constant(name: str) -> Any:
    raise EncodingError(f"record: {name} is not a JSON number")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise EncodingError(f"record: the key {key!r} appears twice in one object")
        out[key] = value
    return out


def record_from_json(data: bytes) -> ElectionRecord:
    """Parse a record file; any input gives a record or an :class:`EncodingError`."""
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EncodingError(f"record: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    if too_deep(text):
        raise EncodingError("record: not JSON (nested too deeply)")
    try:
        raw = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise EncodingError(f"record: not JSON ({exc.msg} at line {exc.lineno})") from exc
    except RecursionError as exc:
        raise EncodingError("record: not JSON (nested too deeply)") from exc
    except ValueError as exc:  # e.g. an integer with more than 4300 digits
        raise EncodingError(f"record: not JSON ({exc})") from exc
    return record_from_dict(raw)


def record_from_dict(raw: Any) -> ElectionRecord:
    """Parse a decoded record strictly; :class:`EncodingError` names the JSON path at fault."""
    try:
        return _parse(raw)
    except RecursionError as exc:
        raise EncodingError("record: nested too deeply") from exc


def _parse(raw: Any) -> ElectionRecord:
    p = "record"
    top = _obj(raw, p, _TOP)
    if top["format"] != FORMAT:
        raise _fail(f"{p}.format", f"must be {FORMAT!r}")
    if _int(top["version"], f"{p}.version") != RECORD_VERSION:
        raise _fail(f"{p}.version", f"this verifier reads version {RECORD_VERSION}")
    manifest = _manifest(top["manifest"], f"{p}.manifest")
    _same(
        _hex(top["manifest_hash"], f"{p}.manifest_hash", 32),
        sha256(manifest.canonical_bytes()),
        f"{p}.manifest_hash",
        "SHA-256 of the canonical manifest",
    )
    _same(
        _hex(top["election_id"], f"{p}.election_id", 32),
        manifest.election_id,
        f"{p}.election_id",
        "election id",
    )

    params = _obj(
        top["parameters"], f"{p}.parameters", {"group", "trustees", "quorum", "revote_allowed"}
    )
    if params["group"] != "secp256k1":
        raise _fail(f"{p}.parameters.group", "must be 'secp256k1'")
    trustees = _int(params["trustees"], f"{p}.parameters.trustees", 1, MAX_TRUSTEES)
    quorum = _int(params["quorum"], f"{p}.parameters.quorum", 1, trustees)
    revote = _bool(params["revote_allowed"], f"{p}.parameters.revote_allowed")

    cp = f"{p}.chain"
    chain = _obj(
        top["chain"],
        cp,
        {"chain_id", "contract", "ballot_count", "checked_count", "first_block", "last_block"},
    )
    chain_id = _int(chain["chain_id"], f"{cp}.chain_id", 1)
    contract = _address(chain["contract"], f"{cp}.contract")
    anchor = ChainAnchor(
        _int(chain["ballot_count"], f"{cp}.ballot_count"),
        _int(chain["checked_count"], f"{cp}.checked_count"),
        _int(chain["first_block"], f"{cp}.first_block"),
        _int(chain["last_block"], f"{cp}.last_block"),
    )
    if anchor.first_block > anchor.last_block:
        raise _fail(f"{cp}.last_block", "is before first_block")

    rp = f"{p}.registrar_key"
    rk = _obj(top["registrar_key"], rp, {"n", "e"})
    n_text = _str(rk["n"], f"{rp}.n", MAX_RSA_BITS // 4)
    if not _MODULUS.fullmatch(n_text):
        raise _fail(f"{rp}.n", "must be lowercase hexadecimal without leading zeros")
    e = _int(rk["e"], f"{rp}.e", 1, (1 << 32) - 1)
    registrar_key = _decode(rp, lambda: RSAPublicKey(int(n_text, 16), e))

    announcements, shares, complaints = _ceremony(
        top["ceremony"], f"{p}.ceremony", trustees, quorum
    )
    joint = _point(top["joint_public_key"], f"{p}.joint_public_key")
    if joint.is_identity:
        raise _fail(f"{p}.joint_public_key", "must not be the identity")
    ctx = _decode(
        p,
        lambda: ElectionContext(
            manifest, trustees, quorum, joint, registrar_key, chain_id, contract, revote
        ),
    )
    _same(
        _hex(top["base_hash"], f"{p}.base_hash", 32), ctx.base_hash, f"{p}.base_hash", "base hash"
    )

    ballots = _ballots(top["ballots"], f"{p}.ballots")
    challenged = _challenged(top["challenged"], f"{p}.challenged")
    excluded = _excluded(top["excluded"], f"{p}.excluded")
    if top["tally"] is None:
        raise _fail(f"{p}.tally", "missing (a record without a tally proves nothing)")
    tally, dshares, result = _tally(top["tally"], f"{p}.tally", manifest, trustees)
    return ElectionRecord(
        manifest,
        trustees,
        quorum,
        revote,
        chain_id,
        contract,
        registrar_key,
        announcements,
        shares,
        complaints,
        joint,
        ballots,
        anchor,
        challenged,
        excluded,
        tally,
        dshares,
        result,
    )


def _manifest(value: Any, path: str) -> Manifest:
    if not isinstance(value, Mapping):
        raise _fail(path, "must be an object")
    try:
        return manifest_from_dict(value)
    except ElectionError as exc:
        raise _fail(path, str(exc)) from exc


def _ceremony(
    value: Any, path: str, trustees: int, quorum: int
) -> tuple[tuple[Announcement, ...], tuple[EncryptedShare, ...], tuple[Complaint, ...]]:
    cer = _obj(value, path, {"announcements", "shares", "complaints"})
    announcements = []
    ap = f"{path}.announcements"
    for i, a in enumerate(_list(cer["announcements"], ap)):
        q = f"{ap}[{i}]"
        a = _obj(a, q, {"trustee", "aux_public_key", "commitments", "proofs"})
        commitments = tuple(
            _point(c, f"{q}.commitments[{j}]")
            for j, c in enumerate(_list(a["commitments"], f"{q}.commitments", quorum))
        )
        proofs = []
        for j, pr in enumerate(_list(a["proofs"], f"{q}.proofs", quorum + 1)):
            data = _hex(pr, f"{q}.proofs[{j}]", 64)
            proofs.append(_decode_bytes(f"{q}.proofs[{j}]", SchnorrProof.from_bytes, data))
        announcements.append(
            Announcement(
                _int(a["trustee"], f"{q}.trustee", 1, trustees),
                _point(a["aux_public_key"], f"{q}.aux_public_key"),
                commitments,
                tuple(proofs),
            )
        )
    _ascending([a.trustee for a in announcements], ap)
    shares = []
    sp = f"{path}.shares"
    for i, s in enumerate(_list(cer["shares"], sp)):
        q = f"{sp}[{i}]"
        s = _obj(s, q, {"dealer", "recipient", "nonce", "ciphertext"})
        shares.append(
            EncryptedShare(
                _int(s["dealer"], f"{q}.dealer", 1, trustees),
                _int(s["recipient"], f"{q}.recipient", 1, trustees),
                _hex(s["nonce"], f"{q}.nonce", 12),
                _hex(s["ciphertext"], f"{q}.ciphertext", 48),
            )
        )
    _ascending([(s.dealer, s.recipient) for s in shares], sp)
    complaints = []
    kp = f"{path}.complaints"
    for i, c in enumerate(_list(cer["complaints"], kp)):
        q = f"{kp}[{i}]"
        c = _obj(c, q, {"accuser", "accused", "shared_secret", "proof"})
        data = _hex(c["proof"], f"{q}.proof")
        complaints.append(
            Complaint(
                _int(c["accuser"], f"{q}.accuser", 1, trustees),
                _int(c["accused"], f"{q}.accused", 1, trustees),
                _point(c["shared_secret"], f"{q}.shared_secret"),
                _decode_bytes(f"{q}.proof", ChaumPedersenProof.from_bytes, data),
            )
        )
    _ascending([(c.accuser, c.accused) for c in complaints], kp)
    return tuple(announcements), tuple(shares), tuple(complaints)


def _ballot_hashes(b: dict[str, Any], q: str, ballot: bytes) -> None:
    digest = sha256(ballot)
    _same(
        _hex(b["ballot_hash"], f"{q}.ballot_hash", 32),
        digest,
        f"{q}.ballot_hash",
        "SHA-256 of the ballot",
    )
    if _str(b["tracking_code"], f"{q}.tracking_code") != tracking_code(digest):
        raise _fail(f"{q}.tracking_code", "does not match the ballot hash")


def _ballots(value: Any, path: str) -> tuple[CastBallot, ...]:
    out = []
    keys = {
        "seq",
        "token",
        "token_signature",
        "binding_signature",
        "ballot_hash",
        "tracking_code",
        "ballot",
    }
    for i, b in enumerate(_list(value, path)):
        q = f"{path}[{i}]"
        b = _obj(b, q, keys)
        ballot = _hex(b["ballot"], f"{q}.ballot")
        _ballot_hashes(b, q, ballot)
        out.append(
            CastBallot(
                _int(b["seq"], f"{q}.seq"),
                _address(b["token"], f"{q}.token"),
                _hex(b["token_signature"], f"{q}.token_signature"),
                _hex(b["binding_signature"], f"{q}.binding_signature", 65),
                ballot,
            )
        )
    _ascending([b.seq for b in out], path)
    return tuple(out)


def _challenged(value: Any, path: str) -> tuple[ChallengedBallot, ...]:
    out = []
    for i, c in enumerate(_list(value, path)):
        q = f"{path}[{i}]"
        c = _obj(c, q, {"seq", "ballot_hash", "tracking_code", "ballot", "master_nonce"})
        ballot = _hex(c["ballot"], f"{q}.ballot")
        _ballot_hashes(c, q, ballot)
        out.append(
            ChallengedBallot(
                _int(c["seq"], f"{q}.seq"), ballot, _hex(c["master_nonce"], f"{q}.master_nonce", 32)
            )
        )
    _ascending([c.seq for c in out], path)
    return tuple(out)


def _excluded(value: Any, path: str) -> tuple[Exclusion, ...]:
    out = []
    for i, e in enumerate(_list(value, path)):
        q = f"{path}[{i}]"
        e = _obj(e, q, {"seq", "ballot_hash", "code", "message"})
        out.append(
            Exclusion(
                _int(e["seq"], f"{q}.seq"),
                _hex(e["ballot_hash"], f"{q}.ballot_hash", 32),
                _str(e["code"], f"{q}.code", 64),
                _str(e["message"], f"{q}.message", 1000),
            )
        )
    _ascending([e.seq for e in out], path)
    return tuple(out)


def _tally(
    value: Any, path: str, manifest: Manifest, trustees: int
) -> tuple[EncryptedTally, tuple[DecryptionShare, ...], tuple[tuple[int, ...], ...]]:
    t = _obj(value, path, {"ballot_count", "encrypted", "decryption_shares", "result"})
    count = _int(t["ballot_count"], f"{path}.ballot_count")
    contests = manifest.contests

    def grid(raw: Any, where: str, cell: Callable[[Any, str], T]) -> tuple[tuple[T, ...], ...]:
        rows = _list(raw, where, len(contests))
        return tuple(
            tuple(
                cell(v, f"{where}[{ci}][{oi}]")
                for oi, v in enumerate(_list(row, f"{where}[{ci}]", len(contest.options)))
            )
            for ci, (contest, row) in enumerate(zip(contests, rows, strict=True))
        )

    def ciphertext(v: Any, where: str) -> Ciphertext:
        data = _hex(v, where, 66)
        return _decode(where, lambda: Ciphertext.from_bytes(data))

    def cp_proof(v: Any, where: str) -> ChaumPedersenProof:
        data = _hex(v, where)
        return _decode(where, lambda: ChaumPedersenProof.from_bytes(data))

    encrypted = EncryptedTally(count, grid(t["encrypted"], f"{path}.encrypted", ciphertext))
    dshares = []
    dp = f"{path}.decryption_shares"
    for i, d in enumerate(_list(t["decryption_shares"], dp)):
        q = f"{dp}[{i}]"
        d = _obj(d, q, {"trustee", "shares", "proofs"})
        dshares.append(
            DecryptionShare(
                _int(d["trustee"], f"{q}.trustee", 1, trustees),
                grid(d["shares"], f"{q}.shares", _point),
                grid(d["proofs"], f"{q}.proofs", cp_proof),
            )
        )
    _ascending([d.trustee for d in dshares], dp)
    rp = f"{path}.result"
    res = _obj(t["result"], rp, {c.id for c in contests})
    result = tuple(
        tuple(
            _int(row[o.id], f"{rp}.{c.id}.{o.id}")
            for o in c.options
            for row in [_obj(res[c.id], f"{rp}.{c.id}", {o.id for o in c.options})]
        )
        for c in contests
    )
    return encrypted, tuple(dshares), result
