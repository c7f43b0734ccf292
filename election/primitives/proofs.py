"""Non-interactive zero-knowledge proofs (Fiat–Shamir over SHA-256).

Every challenge hashes a domain tag, the election's base hash and a ``context`` string that says
where the proof sits (for example ``"contest/1/option/3"``), then the statement and the
commitments. A proof made for one election, position or statement does not verify for another.

Proofs are compact ``(challenge, response)`` forms: the verifier recomputes the commitments
from the responses and checks that they hash to the challenge. Verifiers return ``None`` or
raise :class:`~election.errors.InvalidProof` naming the proof that failed.

Notation follows ``docs/protocol.md``: ``G`` the generator, ``K`` the election public key,
``(α, β)`` a ciphertext, ``c`` challenges, ``v`` responses.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Self

from election.errors import EncodingError, InvalidProof
from election.primitives.elgamal import Ciphertext, InvalidCiphertext, check_ciphertext
from election.primitives.group import (
    SCALAR_SIZE,
    G,
    N,
    Point,
    hash_to_scalar,
    scalar_from_bytes,
    scalar_to_bytes,
)
from election.primitives.hashing import Part, encode

_NEG_G = -G


_NONCE_KEY_TAG = "ippyo/proof-nonce-key/v2"
_NONCE_TAG = "ippyo/proof-nonce/v2"


class _Nonces:
    """Deterministic proof nonces in the spirit of RFC 6979: a function of the prover's
    secret(s), its seed, *and* the statement being proved, so that reusing a seed for another
    statement (another tally, another ballot) gives unrelated nonces and reveals nothing.

    ``key = SHA-256(encode(KEY_TAG, [[secret, ...], seed]))`` and nonce
    ``k(label) = OS2IP(HMAC-SHA-512(key, encode(NONCE_TAG, [proof_tag, base_hash, context,
    [statement...], [label...]]))) mod (N − 1) + 1`` — in ``[1, N)``, bias below 2^-256.
    ``encode`` is :func:`election.primitives.hashing.encode`; docs/protocol.md has the bytes.
    """

    __slots__ = ("_key", "_prefix")

    def __init__(
        self,
        secrets: Sequence[int],
        seed: bytes,
        proof_tag: str,
        base_hash: bytes,
        context: str,
        statement: Sequence[Part],
    ) -> None:
        reduced: list[Part] = [x % N for x in secrets]
        self._key = hashlib.sha256(encode(_NONCE_KEY_TAG, [reduced, seed])).digest()
        self._prefix: list[Part] = [proof_tag, base_hash, context, list(statement)]

    def scalar(self, *label: str | int) -> int:
        msg = encode(_NONCE_TAG, [*self._prefix, list(label)])
        wide = hmac.new(self._key, msg, hashlib.sha512).digest()
        return int.from_bytes(wide, "big") % (N - 1) + 1


# --- Schnorr: knowledge of x with X = x·G --------------------------------------------------
@dataclass(frozen=True, slots=True)
class _ChallengeResponse:
    """A compact sigma-protocol proof: a challenge and a response, 64 bytes on the wire."""

    challenge: int
    response: int

    def to_bytes(self) -> bytes:
        return scalar_to_bytes(self.challenge) + scalar_to_bytes(self.response)

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        if len(data) != 2 * SCALAR_SIZE:
            raise EncodingError(f"a {cls.__name__} is 64 bytes, got {len(data)}")
        return cls(scalar_from_bytes(data[:32]), scalar_from_bytes(data[32:]))


@dataclass(frozen=True, slots=True)
class SchnorrProof(_ChallengeResponse):
    """Proof of knowledge of ``x`` with ``X = x·G``.

    ``challenge`` c = H(base, context, X, h) where h = v·G + c·X is the prover's commitment;
    ``response`` v = u − c·x mod N.
    """


_SCHNORR = "ippyo/schnorr"


def prove_schnorr(
    secret: int, public: Point, base_hash: bytes, context: str, seed: bytes
) -> SchnorrProof:
    u = _Nonces([secret], seed, _SCHNORR, base_hash, context, [public]).scalar()
    c = hash_to_scalar(_SCHNORR, base_hash, context, public, Point.base_times(u))
    return SchnorrProof(c, (u - c * secret) % N)


def verify_schnorr(proof: SchnorrProof, public: Point, base_hash: bytes, context: str) -> None:
    h = Point.base_times(proof.response) + public * proof.challenge
    if hash_to_scalar(_SCHNORR, base_hash, context, public, h) != proof.challenge:
        raise InvalidProof(f"Schnorr proof of knowledge fails ({context})")


# --- Chaum–Pedersen: log_{g1} y1 = log_{g2} y2 ------------------------------------------------
@dataclass(frozen=True, slots=True)
class ChaumPedersenProof(_ChallengeResponse):
    """Proof that ``y1 = x·g1`` and ``y2 = x·g2`` for one ``x`` (equality of discrete logs).

    Used for decryption shares (g1 = G, y1 = X_j, g2 = A, y2 = D_j) and for key-ceremony
    complaints (revealing an ECDH secret). ``challenge`` c = H(base, context, g1, y1, g2, y2,
    a, b) with a = v·g1 + c·y1 and b = v·g2 + c·y2; ``response`` v = u − c·x mod N.
    """


_CP = "ippyo/chaum-pedersen"


def prove_equal_logs(
    secret: int,
    g1: Point,
    y1: Point,
    g2: Point,
    y2: Point,
    base_hash: bytes,
    context: str,
    seed: bytes,
) -> ChaumPedersenProof:
    u = _Nonces([secret], seed, _CP, base_hash, context, [g1, y1, g2, y2]).scalar()
    a = g1 * u
    b = g2 * u
    c = hash_to_scalar(_CP, base_hash, context, g1, y1, g2, y2, a, b)
    return ChaumPedersenProof(c, (u - c * secret) % N)


def verify_equal_logs(
    proof: ChaumPedersenProof,
    g1: Point,
    y1: Point,
    g2: Point,
    y2: Point,
    base_hash: bytes,
    context: str,
) -> None:
    v, c = proof.response, proof.challenge
    a = (Point.base_times(v) if g1 == G else g1 * v) + y1 * c
    b = g2 * v + y2 * c
    if hash_to_scalar(_CP, base_hash, context, g1, y1, g2, y2, a, b) != c:
        raise InvalidProof(f"Chaum–Pedersen proof fails ({context})")


# --- Range proofs: an encrypted value lies in [lo, hi] ----------------------------------------
@dataclass(frozen=True, slots=True)
class RangeProof:
    """Disjunctive Chaum–Pedersen proof that ``(α, β)`` encrypts some ``j ∈ [lo, hi]``.

    One branch per candidate value j: ``α = r·G`` and ``β − j·G = r·K``. The prover knows the
    real branch and simulates the others; the challenges sum to the Fiat–Shamir hash, so at
    most one branch can be simulated freely. With ``[lo, hi] = [0, 1]`` this is the classic
    0/1 proof on one option; on a contest's sum it is ElectionGuard 2.0's range proof (no
    placeholder options).
    """

    challenges: tuple[int, ...]
    """c_j for j = lo..hi; Σ c_j = H(base, context, K, α, β, lo, hi, a_lo, b_lo, …)."""
    responses: tuple[int, ...]
    """v_j for j = lo..hi; a_j = v_j·G + c_j·α and b_j = v_j·K + c_j·(β − j·G)."""

    def to_bytes(self) -> bytes:
        return b"".join(scalar_to_bytes(c) for c in self.challenges) + b"".join(
            scalar_to_bytes(v) for v in self.responses
        )

    @staticmethod
    def from_bytes(data: bytes, branches: int) -> RangeProof:
        if len(data) != 2 * branches * SCALAR_SIZE:
            raise EncodingError(f"a {branches}-branch range proof is {64 * branches} bytes")
        scalars = [scalar_from_bytes(data[i : i + 32]) for i in range(0, len(data), 32)]
        return RangeProof(tuple(scalars[:branches]), tuple(scalars[branches:]))

    @staticmethod
    def size(branches: int) -> int:
        return 2 * branches * SCALAR_SIZE


_RANGE = "ippyo/range-proof"


def prove_range(
    ciphertext: Ciphertext,
    value: int,
    nonce: int,
    public_key: Point,
    lo: int,
    hi: int,
    base_hash: bytes,
    context: str,
    seed: bytes,
) -> RangeProof:
    """Prove that ``ciphertext = encrypt(value, nonce, public_key)`` with lo ≤ value ≤ hi."""
    if not lo <= value <= hi:
        raise ValueError(f"value {value} is outside [{lo}, {hi}]: no honest proof exists")
    alpha, beta = ciphertext.alpha, ciphertext.beta
    commitments: list[Point] = []
    challenges: list[int] = []
    responses: list[int] = []
    nonces = _Nonces(
        [nonce, value], seed, _RANGE, base_hash, context, [public_key, alpha, beta, lo, hi]
    )
    u = nonces.scalar("u")
    shifted = beta - Point.base_times(lo)  # β − j·G, advanced by −G per branch
    for j in range(lo, hi + 1):
        if j == value:
            a, b = Point.base_times(u), public_key * u
            challenges.append(0)
            responses.append(0)
        else:
            c_j = nonces.scalar("c", j)
            v_j = nonces.scalar("v", j)
            a = Point.base_times(v_j) + alpha * c_j
            b = public_key * v_j + shifted * c_j
            challenges.append(c_j)
            responses.append(v_j)
        commitments += (a, b)
        shifted = shifted + _NEG_G
    c = hash_to_scalar(_RANGE, base_hash, context, public_key, alpha, beta, lo, hi, commitments)
    real = value - lo
    challenges[real] = (c - sum(challenges)) % N
    responses[real] = (u - challenges[real] * nonce) % N
    return RangeProof(tuple(challenges), tuple(responses))


def verify_range(
    proof: RangeProof,
    ciphertext: Ciphertext,
    public_key: Point,
    lo: int,
    hi: int,
    base_hash: bytes,
    context: str,
) -> None:
    branches = hi - lo + 1
    if len(proof.challenges) != branches or len(proof.responses) != branches:
        raise InvalidProof(f"range proof has the wrong number of branches ({context})")
    try:
        check_ciphertext(ciphertext)
    except InvalidCiphertext as exc:
        raise InvalidProof(f"range proof over a nonce-0 ciphertext ({context}): {exc}") from exc
    alpha, beta = ciphertext.alpha, ciphertext.beta
    commitments: list[Point] = []
    shifted = beta - Point.base_times(lo) if lo else beta
    for c_j, v_j in zip(proof.challenges, proof.responses, strict=True):
        commitments.append(Point.base_times(v_j) + alpha * c_j)
        commitments.append(public_key * v_j + shifted * c_j)
        shifted = shifted + _NEG_G
    c = hash_to_scalar(_RANGE, base_hash, context, public_key, alpha, beta, lo, hi, commitments)
    if sum(proof.challenges) % N != c:
        raise InvalidProof(f"range proof [{lo}, {hi}] fails ({context})")
