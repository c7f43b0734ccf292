"""Exponential ElGamal on secp256k1.

A ciphertext of a small integer ``m`` under public key ``K`` with nonce ``r`` is
``(α, β) = (r·G, m·G + r·K)``. Ciphertexts add component-wise, which adds the plaintexts:
the tally is the product (here, the sum) of ballots, and only that sum is ever decrypted.
"""

from __future__ import annotations

from dataclasses import dataclass

from election.errors import DecryptionError, EncodingError
from election.primitives.group import POINT_SIZE, G, N, Point, sum_points


class InvalidNonce(ValueError):
    """An encryption nonce outside ``[1, N)``: with r = 0 the ciphertext is ``(O, m·G)``, the
    vote in the clear; a nonce ≥ N is not canonical. Raised by :func:`encrypt`."""


class InvalidCiphertext(EncodingError):
    """A ciphertext no honest encryption produces: α = r·G is the identity, so r = 0 and β = m·G
    shows the plaintext. Raised by :func:`check_ciphertext` and ``from_bytes(strict=True)``
    (the ballot decoder); the range-proof verifier turns it into ``InvalidProof``."""


@dataclass(frozen=True, slots=True)
class Ciphertext:
    """An ElGamal ciphertext ``(α, β)``."""

    alpha: Point
    """α = r·G, the nonce commitment."""
    beta: Point
    """β = m·G + r·K, the masked message."""

    def __add__(self, other: Ciphertext) -> Ciphertext:
        return Ciphertext(self.alpha + other.alpha, self.beta + other.beta)

    def to_bytes(self) -> bytes:
        return self.alpha.to_bytes() + self.beta.to_bytes()

    @staticmethod
    def from_bytes(data: bytes, *, strict: bool = False) -> Ciphertext:
        """Decode 66 bytes. ``strict`` also refuses α = identity (:class:`InvalidCiphertext`):
        use it for anything a voter encrypted. Sums (an empty tally is ``zero()``) may have it.
        """
        if len(data) != 2 * POINT_SIZE:
            raise EncodingError(f"a ciphertext is {2 * POINT_SIZE} bytes, got {len(data)}")
        ct = Ciphertext(Point.from_bytes(data[:POINT_SIZE]), Point.from_bytes(data[POINT_SIZE:]))
        if strict:
            check_ciphertext(ct)
        return ct

    @staticmethod
    def zero() -> Ciphertext:
        """The encryption of 0 with nonce 0: the neutral element of ``+``."""
        return Ciphertext(Point.identity(), Point.identity())


def check_ciphertext(ciphertext: Ciphertext) -> None:
    """Refuse a ciphertext whose α is the identity (nonce 0: β = m·G is the plaintext)."""
    if ciphertext.alpha.is_identity:
        raise InvalidCiphertext(
            "ciphertext α is the point at infinity (nonce 0): its β shows the plaintext"
        )


def encrypt(m: int, r: int, public_key: Point) -> Ciphertext:
    """Encrypt ``m`` under ``public_key`` with nonce ``r``; :class:`InvalidNonce` unless
    0 < r < N."""
    if isinstance(r, bool) or not 0 < r < N:
        raise InvalidNonce(f"an encryption nonce must lie in [1, N); got {r!r}")
    return Ciphertext(Point.base_times(r), Point.base_times(m) + public_key * r)


def sum_ciphertexts(ciphertexts: list[Ciphertext]) -> Ciphertext:
    """The homomorphic sum of many ciphertexts."""
    return Ciphertext(
        sum_points([c.alpha for c in ciphertexts]), sum_points([c.beta for c in ciphertexts])
    )


def decrypt_to_point(ciphertext: Ciphertext, secret: int) -> Point:
    """``m·G`` from a ciphertext and the whole secret key (tests and single-key use only)."""
    return ciphertext.beta - ciphertext.alpha * secret


class DiscreteLog:
    """Baby-step giant-step for ``t`` with ``t·G = M`` and ``0 ≤ t ≤ bound``.

    Build it once per tally (its table has about √bound entries) and reuse it for every option.
    """

    def __init__(self, bound: int) -> None:
        if bound < 0:
            raise ValueError("bound must be non-negative")
        self.bound = bound
        self._m = max(1, int((bound + 1) ** 0.5) + 1)
        table: dict[bytes, int] = {}
        point = Point.identity()
        for j in range(self._m):
            table[point.to_bytes()] = j
            point = point + G
        self._table = table
        self._giant = -Point.base_times(self._m)

    def solve(self, target: Point) -> int:
        """The ``t`` in ``[0, bound]`` with ``t·G = target``; raises if there is none."""
        point = target
        for i in range(self._m + 1):
            j = self._table.get(point.to_bytes())
            if j is not None:
                t = i * self._m + j
                if t <= self.bound:
                    return t
                break
            point = point + self._giant
        raise DecryptionError(
            f"the decrypted value is not in [0, {self.bound}]: a wrong decryption share, or "
            "more votes than ballots"
        )
