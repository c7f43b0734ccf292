"""What trustees and the trustee exchange send each other (docs/trustees.md).

Every upload is a **signed envelope**::

    {"election": <election id hex>, "trustee": i, "kind": <kind>, "body": {...},
     "signature": <Ed25519 signature hex>}

signed by trustee i's own Ed25519 key (the one registered for that election) over the
canonical JSON of ``{"election", "trustee", "kind", "body"}``. Kinds and bodies:

* ``announcement`` — ``{"announcement": <the record's ceremony.announcements[] entry>}``;
* ``shares`` — ``{"shares": [<ceremony.shares[] entries from dealer i>]}``;
* ``complaints`` — ``{"complaints": [<ceremony.complaints[] entries by accuser i>]}``;
* ``decryption`` — ``{"tally_hash": <hex>, "share": <tally.decryption_shares[] entry>}``.

The entries have exactly the election record's encoding (docs/election-record.md) and are
parsed by the record's strict readers. Nothing here does I/O.
"""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from election.errors import ElectionError, EncodingError
from election.keyceremony import Announcement, Complaint, EncryptedShare
from election.manifest import Manifest, canonical_json
from election.primitives.elgamal import Ciphertext
from election.primitives.group import Point
from election.primitives.hashing import sha256
from election.primitives.proofs import ChaumPedersenProof
from election.record import codec
from election.tally import DecryptionShare, EncryptedTally

KINDS = ("announcement", "shares", "complaints", "decryption")


# --- keys and signatures ------------------------------------------------------------------------
def new_signing_key() -> bytes:
    """A fresh Ed25519 private key (32 bytes)."""
    from cryptography.hazmat.primitives import serialization

    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )


def public_key_of(private: bytes) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return (
        Ed25519PrivateKey.from_private_bytes(private)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


def _signed_part(election: str, trustee: int, kind: str, body: dict[str, Any]) -> bytes:
    return canonical_json({"election": election, "trustee": trustee, "kind": kind, "body": body})


def sign_upload(
    private: bytes, election_id: bytes, trustee: int, kind: str, body: dict[str, Any]
) -> dict[str, Any]:
    election = election_id.hex()
    signature = Ed25519PrivateKey.from_private_bytes(private).sign(
        _signed_part(election, trustee, kind, body)
    )
    return {
        "election": election,
        "trustee": trustee,
        "kind": kind,
        "body": body,
        "signature": signature.hex(),
    }


def verify_upload_signature(envelope: dict[str, Any], public: bytes) -> bool:
    try:
        signature = bytes.fromhex(envelope["signature"])
        Ed25519PublicKey.from_public_bytes(public).verify(
            signature,
            _signed_part(
                envelope["election"], envelope["trustee"], envelope["kind"], envelope["body"]
            ),
        )
    except (InvalidSignature, ValueError, TypeError, KeyError):
        return False
    return True


def parse_envelope(raw: Any, trustees: int) -> dict[str, Any]:
    """The envelope's shape (not its signature); :class:`EncodingError` names the field."""
    env = codec._obj(raw, "upload", {"election", "trustee", "kind", "body", "signature"})
    codec._hex(env["election"], "upload.election", 32)
    codec._int(env["trustee"], "upload.trustee", 1, trustees)
    if env["kind"] not in KINDS:
        raise EncodingError(f"upload.kind: must be one of {', '.join(KINDS)}")
    if not isinstance(env["body"], dict):
        raise EncodingError("upload.body: must be an object")
    codec._hex(env["signature"], "upload.signature", 64)
    return env


# --- ceremony messages --------------------------------------------------------------------------
# The encodings are the election record's (the core's codec).
announcement_to_dict = codec.announcement_to_dict
share_to_dict = codec.share_to_dict
complaint_to_dict = codec.complaint_to_dict
ceremony_to_dict = codec.ceremony_to_dict


def ceremony_from_dict(
    raw: Any, trustees: int, quorum: int
) -> tuple[tuple[Announcement, ...], tuple[EncryptedShare, ...], tuple[Complaint, ...]]:
    return codec._ceremony(raw, "ceremony", trustees, quorum)


# --- tally and decryption shares ----------------------------------------------------------------
def tally_to_dict(tally: EncryptedTally) -> dict[str, Any]:
    return {
        "ballot_count": tally.ballot_count,
        "encrypted": [[ct.to_bytes().hex() for ct in row] for row in tally.totals],
    }


def tally_hash(tally: EncryptedTally) -> bytes:
    return sha256(canonical_json(tally_to_dict(tally)))


def _grid(raw: Any, where: str, manifest: Manifest, cell: Any) -> tuple[tuple[Any, ...], ...]:
    rows = codec._list(raw, where, len(manifest.contests))
    return tuple(
        tuple(
            cell(v, f"{where}[{ci}][{oi}]")
            for oi, v in enumerate(codec._list(row, f"{where}[{ci}]", len(contest.options)))
        )
        for ci, (contest, row) in enumerate(zip(manifest.contests, rows, strict=True))
    )


def _ciphertext(v: Any, where: str) -> Ciphertext:
    data = codec._hex(v, where, 66)
    return codec._decode(where, lambda: Ciphertext.from_bytes(data))


def _cp_proof(v: Any, where: str) -> ChaumPedersenProof:
    data = codec._hex(v, where)
    return codec._decode(where, lambda: ChaumPedersenProof.from_bytes(data))


def tally_from_dict(raw: Any, manifest: Manifest) -> EncryptedTally:
    t = codec._obj(raw, "tally", {"ballot_count", "encrypted"})
    return EncryptedTally(
        codec._int(t["ballot_count"], "tally.ballot_count"),
        _grid(t["encrypted"], "tally.encrypted", manifest, _ciphertext),
    )


def decryption_to_dict(d: DecryptionShare) -> dict[str, Any]:
    return {
        "trustee": d.trustee,
        "shares": [[p.hex() for p in row] for row in d.shares],
        "proofs": [[p.to_bytes().hex() for p in row] for row in d.proofs],
    }


def decryption_from_dict(raw: Any, manifest: Manifest, trustees: int) -> DecryptionShare:
    d = codec._obj(raw, "share", {"trustee", "shares", "proofs"})
    point: Any = codec._point
    return DecryptionShare(
        codec._int(d["trustee"], "share.trustee", 1, trustees),
        _grid(d["shares"], "share.shares", manifest, point),
        _grid(d["proofs"], "share.proofs", manifest, _cp_proof),
    )


def point_hex(p: Point) -> str:
    return p.hex()


__all__ = [
    "KINDS",
    "ElectionError",
    "ceremony_from_dict",
    "ceremony_to_dict",
    "decryption_from_dict",
    "decryption_to_dict",
    "new_signing_key",
    "parse_envelope",
    "public_key_of",
    "sign_upload",
    "tally_from_dict",
    "tally_hash",
    "tally_to_dict",
    "verify_upload_signature",
]
