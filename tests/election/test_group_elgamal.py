"""Algebraic laws of the group wrapper and exponential ElGamal."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from election.errors import DecryptionError, EncodingError
from election.primitives.elgamal import (
    Ciphertext,
    DiscreteLog,
    InvalidCiphertext,
    InvalidNonce,
    check_ciphertext,
    decrypt_to_point,
    encrypt,
    sum_ciphertexts,
)
from election.primitives.group import G, N, Point, scalar_from_bytes, sum_points

scalars = st.integers(min_value=0, max_value=N - 1)
nonzero = st.integers(min_value=1, max_value=N - 1)


def test_identity_behaves() -> None:
    O = Point.identity()  # noqa: E741
    assert O + G == G and G + O == G
    assert G - G == O
    assert G * 0 == O and O * 5 == O
    assert Point.base_times(0) == O
    assert Point.from_bytes(O.to_bytes()) == O
    assert sum_points([]) == O
    assert sum_points([G, -G]) == O


@settings(max_examples=30, deadline=None)
@given(a=scalars, b=scalars)
def test_scalar_multiplication_is_linear(a: int, b: int) -> None:
    assert Point.base_times(a) + Point.base_times(b) == Point.base_times(a + b)
    assert (G * a) * b == G * (a * b % N)
    assert Point.base_times(a) == G * a


@settings(max_examples=30, deadline=None)
@given(k=nonzero)
def test_encoding_round_trip(k: int) -> None:
    p = Point.base_times(k)
    assert Point.from_bytes(p.to_bytes()) == p
    assert len(p.to_bytes()) == 33


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"\x02" * 32, "33 bytes"),
        (b"\x05" + b"\x01" * 32, "starts with"),
        (b"\x02" + b"\xff" * 32, "not a point"),
    ],
)
def test_bad_point_encodings(data: bytes, reason: str) -> None:
    with pytest.raises(EncodingError, match=reason):
        Point.from_bytes(data)


def test_scalar_must_be_reduced() -> None:
    with pytest.raises(EncodingError, match="not reduced"):
        scalar_from_bytes(N.to_bytes(32, "big"))


@settings(max_examples=25, deadline=None)
@given(m=st.integers(0, 50), r=nonzero, x=nonzero)
def test_decrypt_encrypt(m: int, r: int, x: int) -> None:
    key = Point.base_times(x)
    ct = encrypt(m, r, key)
    assert decrypt_to_point(ct, x) == Point.base_times(m)
    assert Ciphertext.from_bytes(ct.to_bytes()) == ct
    assert DiscreteLog(50).solve(decrypt_to_point(ct, x)) == m


@settings(max_examples=15, deadline=None)
@given(
    ms=st.lists(st.integers(0, 1), min_size=0, max_size=12), x=nonzero, seed=st.integers(1, 2**64)
)
def test_homomorphic_sum(ms: list[int], x: int, seed: int) -> None:
    key = Point.base_times(x)
    cts = [encrypt(m, seed * (i + 7) % N or 1, key) for i, m in enumerate(ms)]
    total = sum_ciphertexts(cts)
    assert total == (sum(cts, Ciphertext.zero()))
    assert DiscreteLog(len(ms)).solve(decrypt_to_point(total, x)) == sum(ms)


def test_discrete_log_bounds() -> None:
    dlog = DiscreteLog(1000)
    for t in (0, 1, 31, 32, 999, 1000):
        assert dlog.solve(Point.base_times(t)) == t
    with pytest.raises(DecryptionError, match="not in"):
        dlog.solve(Point.base_times(1001))
    with pytest.raises(DecryptionError):
        dlog.solve(Point.base_times(123456789))


def test_nonce_zero_and_out_of_range_are_refused() -> None:
    key = Point.base_times(12345)
    for r in (0, N, 2 * N + 1, -3):
        with pytest.raises(InvalidNonce):
            encrypt(1, r, key)
    # By hand, r = 0 gives (O, m·G): the parser refuses it when strict, sums may hold it.
    naked = Ciphertext(Point.identity(), G)
    with pytest.raises(InvalidCiphertext, match="point at infinity"):
        check_ciphertext(naked)
    with pytest.raises(InvalidCiphertext):
        Ciphertext.from_bytes(naked.to_bytes(), strict=True)
    assert Ciphertext.from_bytes(Ciphertext.zero().to_bytes()) == Ciphertext.zero()
    check_ciphertext(encrypt(1, 1, key))
