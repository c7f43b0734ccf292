"""Every proof verifies, and fails after any single altered field."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from election.errors import InvalidProof
from election.primitives.elgamal import encrypt
from election.primitives.group import G, N, Point
from election.primitives.proofs import (
    RangeProof,
    prove_equal_logs,
    prove_range,
    prove_schnorr,
    verify_equal_logs,
    verify_range,
    verify_schnorr,
)

BASE = b"\x01" * 32
OTHER_BASE = b"\x02" * 32
SEED = b"\x09" * 32
nonzero = st.integers(min_value=1, max_value=N - 1)


def _bump(x: int) -> int:
    return (x + 1) % N


@settings(max_examples=10, deadline=None)
@given(x=nonzero)
def test_schnorr(x: int) -> None:
    X = Point.base_times(x)
    proof = prove_schnorr(x, X, BASE, "ctx", SEED)
    verify_schnorr(proof, X, BASE, "ctx")
    for bad in (
        dataclasses.replace(proof, challenge=_bump(proof.challenge)),
        dataclasses.replace(proof, response=_bump(proof.response)),
    ):
        with pytest.raises(InvalidProof):
            verify_schnorr(bad, X, BASE, "ctx")
    for args in ((X + G, BASE, "ctx"), (X, OTHER_BASE, "ctx"), (X, BASE, "other")):
        with pytest.raises(InvalidProof):
            verify_schnorr(proof, *args)


@settings(max_examples=10, deadline=None)
@given(x=nonzero, a=nonzero)
def test_chaum_pedersen(x: int, a: int) -> None:
    A = Point.base_times(a)
    X, D = Point.base_times(x), A * x
    proof = prove_equal_logs(x, G, X, A, D, BASE, "ctx", SEED)
    verify_equal_logs(proof, G, X, A, D, BASE, "ctx")
    for bad in (
        dataclasses.replace(proof, challenge=_bump(proof.challenge)),
        dataclasses.replace(proof, response=_bump(proof.response)),
    ):
        with pytest.raises(InvalidProof):
            verify_equal_logs(bad, G, X, A, D, BASE, "ctx")
    for args in ((G, X + G, A, D), (G, X, A + G, D), (G, X, A, D + G)):
        with pytest.raises(InvalidProof):
            verify_equal_logs(proof, *args, BASE, "ctx")
    with pytest.raises(InvalidProof):
        verify_equal_logs(proof, G, X, A, D, OTHER_BASE, "ctx")


@settings(max_examples=12, deadline=None)
@given(lo=st.integers(0, 2), width=st.integers(0, 3), pick=st.integers(0, 3), r=nonzero, k=nonzero)
def test_range_proof_every_field(lo: int, width: int, pick: int, r: int, k: int) -> None:
    hi = lo + width
    m = lo + pick % (width + 1)
    K = Point.base_times(k)
    ct = encrypt(m, r, K)
    proof = prove_range(ct, m, r, K, lo, hi, BASE, "ctx", SEED)
    verify_range(proof, ct, K, lo, hi, BASE, "ctx")
    assert RangeProof.from_bytes(proof.to_bytes(), hi - lo + 1) == proof
    tampered = []
    for i in range(hi - lo + 1):
        cs, vs = list(proof.challenges), list(proof.responses)
        cs[i] = _bump(cs[i])
        tampered.append(RangeProof(tuple(cs), proof.responses))
        vs[i] = _bump(vs[i])
        tampered.append(RangeProof(proof.challenges, tuple(vs)))
    for bad in tampered:
        with pytest.raises(InvalidProof):
            verify_range(bad, ct, K, lo, hi, BASE, "ctx")
    for args in (
        (dataclasses.replace(ct, alpha=ct.alpha + G), K, BASE),
        (dataclasses.replace(ct, beta=ct.beta + G), K, BASE),
        (ct, K + G, BASE),
        (ct, K, OTHER_BASE),
    ):
        c, key, base = args
        with pytest.raises(InvalidProof):
            verify_range(proof, c, key, lo, hi, base, "ctx")


def test_no_honest_proof_out_of_range_and_forgery_fails() -> None:
    K = Point.base_times(12345)
    ct = encrypt(2, 777, K)
    with pytest.raises(ValueError, match="outside"):
        prove_range(ct, 2, 777, K, 0, 1, BASE, "ctx", SEED)
    # A cheater claims the encryption of 2 is in [0, 1] using the proof of a real 1.
    honest = prove_range(encrypt(1, 777, K), 1, 777, K, 0, 1, BASE, "ctx", SEED)
    with pytest.raises(InvalidProof):
        verify_range(honest, ct, K, 0, 1, BASE, "ctx")
    with pytest.raises(InvalidProof, match="branches"):
        verify_range(honest, ct, K, 0, 2, BASE, "ctx")
