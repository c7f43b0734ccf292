"""Every proof verifies, and fails after any single altered field."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from election.errors import InvalidProof
from election.primitives.elgamal import encrypt
from election.primitives.group import G, N, Point, hash_to_scalar, inverse
from election.primitives.proofs import (
    ChaumPedersenProof,
    RangeProof,
    SchnorrProof,
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


# --- Nonce reuse: the old derivation (seed and position only) against the new one ----------
def _old_nonce(seed: bytes, *labels: str | int) -> int:
    """The derivation before issue 9: the statement was not an input."""
    return hash_to_scalar("ippyo/proof-nonce", seed, *labels) or 1


def _old_prove_equal_logs(
    secret: int, g1: Point, y1: Point, g2: Point, y2: Point, base: bytes, context: str, seed: bytes
) -> ChaumPedersenProof:
    u = _old_nonce(seed, "ippyo/chaum-pedersen", context)
    a, b = g1 * u, g2 * u
    c = hash_to_scalar("ippyo/chaum-pedersen", base, context, g1, y1, g2, y2, a, b)
    return ChaumPedersenProof(c, (u - c * secret) % N)


def _share_from_two_proofs(p1: ChaumPedersenProof, p2: ChaumPedersenProof) -> int:
    """If both proofs used one nonce u: v_i = u − c_i·x, so x = (v2 − v1)/(c1 − c2)."""
    return (p2.response - p1.response) * inverse(p1.challenge - p2.challenge) % N


def _decryption_share_proofs(
    prover: Callable[..., ChaumPedersenProof], x: int, seed: bytes
) -> tuple[ChaumPedersenProof, ChaumPedersenProof]:
    """A trustee's proofs for two different tallies (α differs), same seed and position."""
    X = Point.base_times(x)
    proofs = []
    for a in (1234567, 7654321):
        A = Point.base_times(a)
        proof = prover(x, G, X, A, A * x, BASE, "decrypt/trustee/1/contest/0/option/0", seed)
        verify_equal_logs(proof, G, X, A, A * x, BASE, "decrypt/trustee/1/contest/0/option/0")
        proofs.append(proof)
    return proofs[0], proofs[1]


def test_old_scheme_leaked_a_key_share_on_seed_reuse_and_the_new_one_does_not() -> None:
    x = 0x1D5C0FFEE % N
    X = Point.base_times(x)
    old = _decryption_share_proofs(_old_prove_equal_logs, x, SEED)
    assert Point.base_times(_share_from_two_proofs(*old)) == X  # the old scheme: share revealed
    new = _decryption_share_proofs(prove_equal_logs, x, SEED)
    assert new[0].challenge != new[1].challenge
    guess = _share_from_two_proofs(*new)
    assert guess != x and Point.base_times(guess) != X


def _commitment_schnorr(proof: SchnorrProof, public: Point) -> Point:
    return Point.base_times(proof.response) + public * proof.challenge


def test_same_seed_other_statement_gives_other_commitments() -> None:
    x, y = 1111, 2222
    X, Y = Point.base_times(x), Point.base_times(y)
    # Schnorr: another public key, another context, another base hash: other commitments.
    h = _commitment_schnorr(prove_schnorr(x, X, BASE, "ctx", SEED), X)
    assert h != _commitment_schnorr(prove_schnorr(y, Y, BASE, "ctx", SEED), Y)
    assert h != _commitment_schnorr(prove_schnorr(x, X, OTHER_BASE, "ctx", SEED), X)
    assert h != _commitment_schnorr(prove_schnorr(x, X, BASE, "ctx2", SEED), X)
    assert h == _commitment_schnorr(prove_schnorr(x, X, BASE, "ctx", SEED), X)  # deterministic
    # Chaum–Pedersen: same secret, same seed, another g2: the commitment a = u·G differs.
    A1, A2 = Point.base_times(5), Point.base_times(6)
    p1 = prove_equal_logs(x, G, X, A1, A1 * x, BASE, "ctx", SEED)
    p2 = prove_equal_logs(x, G, X, A2, A2 * x, BASE, "ctx", SEED)
    a1 = Point.base_times(p1.response) + X * p1.challenge
    a2 = Point.base_times(p2.response) + X * p2.challenge
    assert a1 != a2
    # Range proofs: same nonce r, same seed, other value: other commitments (a_j per branch).
    K = Point.base_times(999)
    commits = []
    for m in (0, 1):
        ct = encrypt(m, 4242, K)
        rp = prove_range(ct, m, 4242, K, 0, 1, BASE, "ctx", SEED)
        commits.append(
            [
                Point.base_times(v) + ct.alpha * c
                for c, v in zip(rp.challenges, rp.responses, strict=True)
            ]
        )
    assert not set(commits[0]) & set(commits[1])


def _text(s: str) -> bytes:
    data = s.encode()
    return b"\x02" + len(data).to_bytes(4, "big") + data


def _blob(b: bytes) -> bytes:
    return b"\x01" + len(b).to_bytes(4, "big") + b


def _point(p: Point) -> bytes:
    return b"\x04" + (33).to_bytes(4, "big") + p.to_bytes()


def _seq(items: list[bytes]) -> bytes:
    return b"\x05" + len(items).to_bytes(4, "big") + b"".join(items)


def _int(x: int) -> bytes:
    return b"\x03" + x.to_bytes(32, "big")


def test_nonce_derivation_matches_the_bytes_in_docs_protocol() -> None:
    """An independent rebuild of the documented bytes gives the prover's commitment."""
    import hashlib
    import hmac

    x = 0xABCDEF
    X = Point.base_times(x)
    key = hashlib.sha256(_text("ippyo/proof-nonce-key/v2") + _seq([_int(x)]) + _blob(SEED)).digest()
    msg = (
        _text("ippyo/proof-nonce/v2")
        + _text("ippyo/schnorr")
        + _blob(BASE)
        + _text("ctx")
        + _seq([_point(X)])
        + _seq([])
    )
    u = int.from_bytes(hmac.new(key, msg, hashlib.sha512).digest(), "big") % (N - 1) + 1
    proof = prove_schnorr(x, X, BASE, "ctx", SEED)
    assert _commitment_schnorr(proof, X) == Point.base_times(u)
    challenge_input = _text("ippyo/schnorr") + _blob(BASE) + _text("ctx") + _point(X)
    h = Point.base_times(u)
    c = int.from_bytes(hashlib.sha256(challenge_input + _point(h)).digest(), "big") % N
    assert proof.challenge == c and proof.response == (u - c * x) % N


def test_share_encryption_matches_the_hkdf_info_and_aad_in_docs_protocol() -> None:
    """Decrypt a real ceremony share with HKDF/AES-GCM built from the documented bytes only."""
    import hashlib

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    from election.keyceremony import run_ceremony

    election_id = b"\x33" * 32
    people, announcements, shares, _, _ = run_ceremony(election_id, 3, 2)
    ceremony = hashlib.sha256(
        _text("ippyo/ceremony") + _blob(election_id) + _int(3) + _int(2)
    ).digest()
    share = next(s for s in shares if (s.dealer, s.recipient) == (1, 2))
    dealer, recipient = people[0], people[1]
    ecdh = announcements[1].aux_public_key * dealer._aux_secret
    tail = _blob(ceremony) + _int(1) + _int(2)
    info, aad = _text("ippyo/share-key") + tail, _text("ippyo/share-aad") + tail
    assert len(info) == len(aad) == 123 and len(share.nonce) == 12 and len(share.ciphertext) == 48
    key = HKDF(hashes.SHA256(), 32, salt=None, info=info).derive(ecdh.to_bytes())
    value = int.from_bytes(AESGCM(key).decrypt(share.nonce, share.ciphertext, aad), "big")
    assert value == recipient._received[1]
