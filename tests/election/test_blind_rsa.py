"""RFC 9474 RSA blind signatures: the RFC's published vectors and behaviour tests."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from election.errors import EncodingError, InvalidSignature
from election.primitives import blind_rsa
from election.primitives.blind_rsa import RSAPrivateKey, RSAPublicKey, Variant

_DATA = json.loads((Path(__file__).parent / "vectors" / "rfc9474.json").read_text())
VECTORS = _DATA["variants"]
KEY = _DATA["key"]
BY_NAME = {v.rfc_name: v for v in Variant}


def _int(h: str) -> int:
    return int(h, 16)


def _bytes(h: str) -> bytes:
    return bytes.fromhex(h)


def test_all_four_rfc_variants_are_present() -> None:
    assert sorted(v["name"] for v in VECTORS) == sorted(
        v.rfc_name for v in Variant if v is not Variant.IPPYO
    )


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_rfc9474_vector(vector: dict[str, str]) -> None:
    variant = BY_NAME[vector["name"]]
    p, q, e = _int(KEY["p"]), _int(KEY["q"]), _int(KEY["e"])
    assert p * q == _int(KEY["n"])
    key = RSAPrivateKey(p * q, e, pow(e, -1, math.lcm(p - 1, q - 1)), p, q)
    pk = key.public_key
    n = pk.n
    msg, prefix = _bytes(vector["msg"]), _bytes(vector["msg_prefix"])
    prepared = blind_rsa.prepare(variant, msg, prefix or None)
    assert prepared == prefix + msg
    salt = _bytes(vector["salt"])
    # The RFC's r is the inverse of its published inv.
    r = pow(_int(vector["inv"]), -1, n)
    blinded = blind_rsa.blind(pk, variant, prepared, salt=salt, r=r)
    assert blinded.blinded_msg == _bytes(vector["blinded_msg"])
    assert blinded.inv == _bytes(vector["inv"])
    blind_sig = blind_rsa.blind_sign(key, blinded.blinded_msg)
    assert blind_sig == _bytes(vector["blind_sig"])
    sig = blind_rsa.finalize(pk, variant, prepared, blind_sig, blinded.inv)
    assert sig == _bytes(vector["sig"])
    blind_rsa.verify(pk, variant, prepared, sig)
    with pytest.raises(InvalidSignature):
        blind_rsa.verify(pk, variant, prepared + b"x", sig)


@pytest.fixture(scope="module")
def key() -> RSAPrivateKey:
    return blind_rsa.generate_key(2048)


@pytest.mark.parametrize("variant", list(Variant), ids=[v.rfc_name for v in Variant])
def test_round_trip_every_variant(key: RSAPrivateKey, variant: Variant) -> None:
    pk = key.public_key
    prepared = blind_rsa.prepare(variant, b"ippyo ballot token")
    result = blind_rsa.blind(pk, variant, prepared)
    sig = blind_rsa.finalize(
        pk, variant, prepared, blind_rsa.blind_sign(key, result.blinded_msg), result.inv
    )
    blind_rsa.verify(pk, variant, prepared, sig)
    if variant.randomized:
        assert prepared[32:] == b"ippyo ballot token"


def test_deployed_variant_is_deterministic(key: RSAPrivateKey) -> None:
    pk, v = key.public_key, Variant.IPPYO
    a = blind_rsa.blind(pk, v, b"m" * 52)
    b = blind_rsa.blind(pk, v, b"m" * 52)
    sig_a = blind_rsa.finalize(pk, v, b"m" * 52, blind_rsa.blind_sign(key, a.blinded_msg), a.inv)
    sig_b = blind_rsa.finalize(pk, v, b"m" * 52, blind_rsa.blind_sign(key, b.blinded_msg), b.inv)
    assert a.blinded_msg != b.blinded_msg  # fresh blinding each time: unlinkable
    assert sig_a == sig_b  # but exactly one signature per message


@settings(max_examples=20, deadline=None)
@given(bad=st.one_of(st.just(0), st.just(1), st.integers(2, 2**64)))
def test_verify_refuses_junk(key: RSAPrivateKey, bad: int) -> None:
    pk = key.public_key
    for sig in (bad.to_bytes(pk.size, "big"), (pk.n - 1).to_bytes(pk.size, "big")):
        with pytest.raises(InvalidSignature):
            blind_rsa.verify(pk, Variant.IPPYO, b"m", sig)


def test_verify_refuses_wrong_length_and_out_of_range(key: RSAPrivateKey) -> None:
    pk = key.public_key
    with pytest.raises(InvalidSignature, match="bytes"):
        blind_rsa.verify(pk, Variant.IPPYO, b"m", b"\x01" * (pk.size - 1))
    with pytest.raises(InvalidSignature, match="below the modulus"):
        blind_rsa.verify(pk, Variant.IPPYO, b"m", pk.n.to_bytes(pk.size, "big"))


def test_signature_by_other_key_fails(key: RSAPrivateKey) -> None:
    other = blind_rsa.generate_key(2048)
    r = blind_rsa.blind(other.public_key, Variant.IPPYO, b"m")
    sig = blind_rsa.finalize(
        other.public_key, Variant.IPPYO, b"m", blind_rsa.blind_sign(other, r.blinded_msg), r.inv
    )
    with pytest.raises(InvalidSignature):
        blind_rsa.verify(key.public_key, Variant.IPPYO, b"m", sig)


def test_signer_refuses_bad_input_and_finalize_catches_cheating(key: RSAPrivateKey) -> None:
    pk = key.public_key
    with pytest.raises(EncodingError):
        blind_rsa.blind_sign(key, b"\x00" * (pk.size - 1))
    with pytest.raises(EncodingError, match="below the modulus"):
        blind_rsa.blind_sign(key, b"\xff" * pk.size)
    r = blind_rsa.blind(pk, Variant.IPPYO, b"m")
    wrong = blind_rsa.blind_sign(
        key, (int.from_bytes(r.blinded_msg, "big") ^ 2).to_bytes(pk.size, "big")
    )
    with pytest.raises(InvalidSignature):
        blind_rsa.finalize(pk, Variant.IPPYO, b"m", wrong, r.inv)
    with pytest.raises(InvalidSignature, match="does not verify"):
        blind_rsa.check_blind_signature(pk, r.blinded_msg, wrong)


def test_pem_round_trip(key: RSAPrivateKey) -> None:
    assert blind_rsa.private_key_from_pem(blind_rsa.private_key_to_pem(key)) == key
    assert (
        blind_rsa.public_key_from_pem(blind_rsa.public_key_to_pem(key.public_key)) == key.public_key
    )
    with pytest.raises(EncodingError):
        RSAPublicKey(2**2048 + 1, 4)


def _weak_key(bits: int, e: int) -> tuple[int, bytes | None]:
    """A real modulus of ``bits`` bits with exponent ``e``, and its PEM (OpenSSL cannot
    encode e < 3, so there is none for e = 1)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    n = rsa.generate_private_key(65537, bits).public_key().public_numbers().n
    if e < 3:
        return n, None
    pem = (
        rsa.RSAPublicNumbers(e, n)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return n, pem


@pytest.mark.parametrize(
    ("bits", "e", "reason"),
    [
        (1024, 65537, "2048 to 4096 bits; this one has 1024"),
        (2048, 3, "must be 65537, not 3"),
        (2048, 1, "must be 65537, not 1"),
        (2048, 65539, "must be 65537, not 65539"),
    ],
)
def test_weak_registrar_keys_are_refused(bits: int, e: int, reason: str) -> None:
    n, pem = _weak_key(bits, e)
    if pem is not None:
        with pytest.raises(blind_rsa.WeakRegistrarKey, match=reason):
            blind_rsa.public_key_from_pem(pem)
    with pytest.raises(blind_rsa.WeakRegistrarKey, match=reason):
        RSAPublicKey(n, e)
    with pytest.raises(blind_rsa.WeakRegistrarKey, match=reason):
        RSAPrivateKey(n, e, 1, 1, n)  # no private key of a weak public key either


def test_e_1_would_make_every_encoding_a_signature() -> None:
    """Why e = 1 is refused: s = EM "verifies" for any message without the private key."""
    good = blind_rsa.generate_key(2048).public_key
    encoded = blind_rsa.emsa_pss_encode(Variant.IPPYO, b"any token", good.bits - 1, b"")
    forged = encoded.rjust(good.size, b"\x00")
    with pytest.raises(blind_rsa.WeakRegistrarKey):
        RSAPublicKey(good.n, 1)
    with pytest.raises(InvalidSignature):
        blind_rsa.verify(good, Variant.IPPYO, b"any token", forged)


@pytest.mark.parametrize("bits", [1024, 2047, 4097, 8192])
def test_generate_key_makes_only_policy_keys(bits: int) -> None:
    with pytest.raises(blind_rsa.WeakRegistrarKey):
        blind_rsa.generate_key(bits)


def test_boundary_sizes_are_accepted() -> None:
    for bits in (2048, 4096):
        n = (1 << (bits - 1)) | 1
        assert RSAPublicKey(n, 65537).bits == bits
    with pytest.raises(blind_rsa.WeakRegistrarKey):
        RSAPublicKey((1 << 4096) | 1, 65537)
    with pytest.raises(blind_rsa.WeakRegistrarKey, match="odd"):
        RSAPublicKey(1 << 2047, 65537)


@pytest.mark.parametrize("variant", list(Variant), ids=[v.rfc_name for v in Variant])
def test_openssl_verifies_our_signatures(key: RSAPrivateKey, variant: Variant) -> None:
    """An independent verifier (OpenSSL's RSASSA-PSS, through `cryptography`) accepts the
    finalized signatures: the blind protocol yields ordinary PSS signatures."""
    from cryptography.exceptions import InvalidSignature as OpenSSLInvalid
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    algorithm = hashes.SHA256() if variant.hash_name == "sha256" else hashes.SHA384()
    public = rsa.RSAPublicNumbers(key.e, key.n).public_key()
    pss = padding.PSS(mgf=padding.MGF1(algorithm), salt_length=variant.salt_length)
    for i in range(3):
        prepared = blind_rsa.prepare(variant, f"message {i}".encode())
        r = blind_rsa.blind(key.public_key, variant, prepared)
        sig = blind_rsa.finalize(
            key.public_key, variant, prepared, blind_rsa.blind_sign(key, r.blinded_msg), r.inv
        )
        public.verify(sig, prepared, pss, algorithm)
        with pytest.raises(OpenSSLInvalid):
            public.verify(sig, prepared + b"!", pss, algorithm)


# --- Wycheproof: RSASSA-PSS, SHA-256, MGF1-SHA-256, salt length 0 ---------------------------
_WYCHEPROOF = json.loads(
    (Path(__file__).parent / "vectors" / "rsa_pss_2048_sha256_mgf1_0_test.json").read_text()
)
_WP_GROUPS = _WYCHEPROOF["testGroups"]
_WP_CASES = [(group, case) for group in _WP_GROUPS for case in group["tests"]]


def test_wycheproof_file_is_the_variant_we_deploy() -> None:
    assert _WYCHEPROOF["algorithm"] == "RSASSA-PSS"
    assert len(_WP_CASES) == _WYCHEPROOF["numberOfTests"] == 103
    for group in _WP_GROUPS:
        assert (group["sha"], group["mgf"], group["mgfSha"], group["sLen"]) == (
            "SHA-256",
            "MGF1",
            "SHA-256",
            0,
        )
    assert Variant.IPPYO.value == ("sha256", 0, False)  # RSABSSA-SHA256-PSSZERO-Deterministic
    # Every vector is "valid" or "invalid": this file has no "acceptable" case to decide.
    results = {case["result"] for _, case in _WP_CASES}
    assert results == {"valid", "invalid"}


@pytest.mark.parametrize(
    ("group", "case"), _WP_CASES, ids=[f"tc{c['tcId']}-{c['result']}" for _, c in _WP_CASES]
)
def test_wycheproof_rsa_pss_sha256_salt0(group: dict[str, Any], case: dict[str, Any]) -> None:
    """The blind-RSA verifier (the final step of RSABSSA-SHA256-PSSZERO is RSASSA-PSS-VERIFY
    with salt length 0 over the prepared message, here the message itself) accepts every
    "valid" vector and refuses every "invalid" one with InvalidSignature."""
    key = RSAPublicKey(
        int(group["publicKey"]["modulus"], 16), int(group["publicKey"]["publicExponent"], 16)
    )
    msg, sig = bytes.fromhex(case["msg"]), bytes.fromhex(case["sig"])
    prepared = blind_rsa.prepare(Variant.IPPYO, msg)
    if case["result"] == "valid":
        blind_rsa.verify(key, Variant.IPPYO, prepared, sig)
    else:
        assert case["result"] == "invalid"
        with pytest.raises(InvalidSignature):
            blind_rsa.verify(key, Variant.IPPYO, prepared, sig)
