"""secp256k1 through libsecp256k1 (coincurve), with a point type that has an identity.

coincurve's ``PublicKey`` cannot represent the point at infinity, yet the protocol needs it (an
empty tally is the identity; ``0·G`` must work). :class:`Point` wraps an optional ``PublicKey``:
``None`` is the identity. Scalars are plain ``int`` reduced modulo the group order :data:`N`.

Points travel compressed (33 bytes); the identity is encoded as 33 zero bytes so that every
point has the same length on the wire.
"""

from __future__ import annotations

from typing import Final

from coincurve import PublicKey

from election.errors import EncodingError
from election.primitives.hashing import Part, hash_bytes

#: The order of secp256k1's group: scalars live modulo N.
N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
#: The field prime (used only to validate encodings).
P: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F

POINT_SIZE: Final = 33
SCALAR_SIZE: Final = 32
_IDENTITY_BYTES: Final = bytes(POINT_SIZE)


def _scalar_bytes(k: int) -> bytes:
    return (k % N).to_bytes(32, "big")


class Point:
    """A point of secp256k1, or the identity. Immutable; ``+``, ``-`` and ``k * P`` work."""

    __slots__ = ("_encoded", "_key")

    def __init__(self, key: PublicKey | None) -> None:
        self._key = key
        self._encoded: bytes | None = None

    # --- construction -------------------------------------------------------------------
    @staticmethod
    def identity() -> Point:
        return _IDENTITY

    @staticmethod
    def base_times(k: int) -> Point:
        """``k·G`` (faster than multiplying the generator as an ordinary point)."""
        k %= N
        if k == 0:
            return _IDENTITY
        return Point(PublicKey.from_valid_secret(k.to_bytes(32, "big")))

    @staticmethod
    def from_bytes(data: bytes) -> Point:
        """Decode a 33-byte compressed point (or 33 zero bytes for the identity)."""
        if len(data) != POINT_SIZE:
            raise EncodingError(f"a point is {POINT_SIZE} bytes, got {len(data)}")
        if data == _IDENTITY_BYTES:
            return _IDENTITY
        if data[0] not in (2, 3):
            raise EncodingError("a compressed point starts with 02 or 03")
        try:
            point = Point(PublicKey(bytes(data)))
        except ValueError as exc:
            raise EncodingError("bytes are not a point on secp256k1") from exc
        point._encoded = bytes(data)
        return point

    # --- properties -----------------------------------------------------------------------
    @property
    def is_identity(self) -> bool:
        return self._key is None

    def to_bytes(self) -> bytes:
        if self._encoded is None:
            self._encoded = _IDENTITY_BYTES if self._key is None else self._key.format(True)
        return self._encoded

    def to_uncompressed(self) -> bytes:
        """65-byte SEC1 uncompressed form (04 ‖ x ‖ y); not defined for the identity."""
        if self._key is None:
            raise EncodingError("the identity has no uncompressed encoding")
        return bytes(self._key.format(False))

    def hex(self) -> str:
        return self.to_bytes().hex()

    @staticmethod
    def from_hex(text: str) -> Point:
        try:
            data = bytes.fromhex(text)
        except ValueError as exc:
            raise EncodingError(f"not hexadecimal: {text[:20]!r}") from exc
        return Point.from_bytes(data)

    # --- arithmetic -------------------------------------------------------------------------
    def __add__(self, other: Point) -> Point:
        if self._key is None:
            return other
        if other._key is None:
            return self
        try:
            return Point(PublicKey.combine_keys([self._key, other._key]))
        except ValueError:  # libsecp256k1 refuses a sum at infinity: P + (−P)
            return _IDENTITY

    def __neg__(self) -> Point:
        if self._key is None:
            return self
        enc = self.to_bytes()
        return Point.from_bytes(bytes([enc[0] ^ 1]) + enc[1:])

    def __sub__(self, other: Point) -> Point:
        return self + (-other)

    def __mul__(self, k: int) -> Point:
        k %= N
        if k == 0 or self._key is None:
            return _IDENTITY
        return Point(self._key.multiply(k.to_bytes(32, "big")))

    __rmul__ = __mul__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and self.to_bytes() == other.to_bytes()

    def __hash__(self) -> int:
        return hash(self.to_bytes())

    def __repr__(self) -> str:
        return "Point(identity)" if self._key is None else f"Point({self.hex()[:18]}…)"


_IDENTITY: Final = Point(None)
#: The generator of secp256k1.
G: Final = Point.base_times(1)


def sum_points(points: list[Point] | tuple[Point, ...]) -> Point:
    """Σ points, in one call to libsecp256k1 where possible."""
    keys = [p._key for p in points if p._key is not None]
    if not keys:
        return _IDENTITY
    if len(keys) == 1:
        return Point(keys[0])
    try:
        return Point(PublicKey.combine_keys(keys))
    except ValueError:
        # The total is the identity, or a partial sum inside libsecp256k1 hit it; add pairwise.
        total = _IDENTITY
        for key in keys:
            total = total + Point(key)
        return total


def scalar_from_bytes(data: bytes) -> int:
    """Decode a 32-byte big-endian scalar, refusing values ≥ N (non-canonical)."""
    if len(data) != SCALAR_SIZE:
        raise EncodingError(f"a scalar is {SCALAR_SIZE} bytes, got {len(data)}")
    value = int.from_bytes(data, "big")
    if value >= N:
        raise EncodingError("scalar is not reduced modulo the group order")
    return value


def scalar_to_bytes(k: int) -> bytes:
    return _scalar_bytes(k)


def hash_to_scalar(tag: str, *parts: Part) -> int:
    """A scalar from a domain-separated hash (bias below 2^-128, since N > 2^256 − 2^129)."""
    return int.from_bytes(hash_bytes(tag, *parts), "big") % N


def inverse(k: int) -> int:
    k %= N
    if k == 0:
        raise ZeroDivisionError("0 has no inverse modulo N")
    return pow(k, -1, N)
