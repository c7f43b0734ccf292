"""Canonical, length-prefixed encodings and domain-separated SHA-256.

Every hash in the protocol is ``H(tag, part_1, ..., part_k)``: the tag and every part are
encoded canonically and each is prefixed by its length, so no two different tuples of parts
share an encoding. Parts may be bytes, str (UTF-8), non-negative ints below 2^256 (32 bytes,
big-endian), points (33-byte compressed) or sequences of parts (prefixed by their count).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Protocol, TypeAlias

from election.errors import EncodingError


class Encodable(Protocol):
    """Anything with a canonical byte encoding (points, ciphertexts...)."""

    def to_bytes(self) -> bytes: ...


Part: TypeAlias = "bytes | str | int | Encodable | Sequence[Part]"

_BYTES, _STR, _INT, _OBJ, _SEQ = b"\x01", b"\x02", b"\x03", b"\x04", b"\x05"


def _length(n: int) -> bytes:
    return n.to_bytes(4, "big")


def _encode_part(part: Part, out: list[bytes]) -> None:
    if isinstance(part, bytes | bytearray):
        out += (_BYTES, _length(len(part)), bytes(part))
    elif isinstance(part, str):
        data = part.encode("utf-8")
        out += (_STR, _length(len(data)), data)
    elif isinstance(part, bool):
        raise EncodingError("booleans have no canonical encoding; use 0 or 1")
    elif isinstance(part, int):
        if not 0 <= part < 1 << 256:
            raise EncodingError(f"integer out of range for canonical encoding: {part}")
        out += (_INT, part.to_bytes(32, "big"))
    elif isinstance(part, list | tuple):
        out += (_SEQ, _length(len(part)))
        for item in part:
            _encode_part(item, out)
    elif hasattr(part, "to_bytes"):
        data = part.to_bytes()
        out += (_OBJ, _length(len(data)), data)
    else:
        raise EncodingError(f"cannot encode a {type(part).__name__} canonically")


def encode(tag: str, parts: Iterable[Part]) -> bytes:
    """The canonical encoding of a domain tag followed by parts."""
    out: list[bytes] = []
    _encode_part(tag, out)
    for part in parts:
        _encode_part(part, out)
    return b"".join(out)


def hash_bytes(tag: str, *parts: Part) -> bytes:
    """SHA-256 of the canonical encoding of ``(tag, *parts)``: 32 bytes."""
    return hashlib.sha256(encode(tag, parts)).digest()


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()
