"""The ballot token: derivation, blind issuance, and the binding signature."""

from __future__ import annotations

import pytest
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st

from election import token
from election.errors import EncodingError, InvalidSignature
from election.primitives import blind_rsa
from election.primitives.group import N

ELECTION = bytes(range(32))


@pytest.fixture(scope="module")
def registrar() -> blind_rsa.RSAPrivateKey:
    return blind_rsa.generate_key(2048)


def test_token_is_deterministic_per_card_and_election() -> None:
    card_sig = b"\x01" * 256
    assert token.derive_token(ELECTION, card_sig) == token.derive_token(ELECTION, card_sig)
    assert token.derive_token(ELECTION, card_sig) != token.derive_token(bytes(32), card_sig)
    assert token.derive_token(ELECTION, card_sig) != token.derive_token(ELECTION, b"\x02" * 256)


def test_address_matches_ethereum() -> None:
    key = token.derive_token(ELECTION, b"\x07" * 256)
    assert Account.from_key(key.secret.to_bytes(32, "big")).address.lower() == key.address_hex


def test_issuance_round_trip_and_idempotence(registrar: blind_rsa.RSAPrivateKey) -> None:
    pk = registrar.public_key
    card_sig = b"\x05" * 256
    key, blinding = token.blind_token(pk, ELECTION, card_sig)
    blind_sig = blind_rsa.blind_sign(registrar, blinding.blinded_msg)
    signature = token.finalize_token(pk, ELECTION, key, blind_sig, blinding)
    token.verify_token_signature(pk, ELECTION, key.address, signature)
    # A crashed kiosk asks again: same blinded message, same answer, same signature.
    _, blinding2 = token.blind_token(pk, ELECTION, card_sig)
    assert blinding2 == blinding
    assert blind_rsa.blind_sign(registrar, blinding2.blinded_msg) == blind_sig
    with pytest.raises(InvalidSignature):
        token.verify_token_signature(pk, bytes(32), key.address, signature)
    other = token.derive_token(ELECTION, b"\x06" * 256)
    with pytest.raises(InvalidSignature):
        token.verify_token_signature(pk, ELECTION, other.address, signature)


@settings(max_examples=25, deadline=None)
@given(ballot_hash=st.binary(min_size=32, max_size=32), chain_id=st.integers(1, 2**64))
def test_binding_signature(ballot_hash: bytes, chain_id: int) -> None:
    key = token.derive_token(ELECTION, b"\x03" * 256)
    contract = b"\xaa" * 20
    sig = token.sign_binding(key, chain_id, contract, ballot_hash)
    token.verify_binding(key.address, chain_id, contract, ballot_hash, sig)
    assert int.from_bytes(sig[32:64], "big") <= token._HALF_N
    flipped = bytes([ballot_hash[0] ^ 1]) + ballot_hash[1:]
    for args in (
        (key.address, chain_id + 1, contract, ballot_hash),
        (key.address, chain_id, b"\xab" * 20, ballot_hash),
        (key.address, chain_id, contract, flipped),
        (b"\x00" * 20, chain_id, contract, ballot_hash),
    ):
        with pytest.raises(InvalidSignature):
            token.verify_binding(*args, sig)


def test_binding_rejects_malleable_and_malformed() -> None:
    key = token.derive_token(ELECTION, b"\x03" * 256)
    contract, h = b"\xaa" * 20, b"\x11" * 32
    sig = token.sign_binding(key, 5, contract, h)
    s = int.from_bytes(sig[32:64], "big")
    high = sig[:32] + (N - s).to_bytes(32, "big") + bytes([55 - sig[64]])
    with pytest.raises(InvalidSignature, match="high s"):
        token.verify_binding(key.address, 5, contract, h, high)
    with pytest.raises(InvalidSignature, match="v must be"):
        token.verify_binding(key.address, 5, contract, h, sig[:64] + b"\x01")
    with pytest.raises(InvalidSignature, match="65 bytes"):
        token.verify_binding(key.address, 5, contract, h, sig[:64])
    with pytest.raises(EncodingError):
        token.binding_digest(5, contract[:19], h)


def test_binding_digest_layout() -> None:
    # abi.encodePacked(bytes32 tag, uint256 chainId, address, bytes32): 32 + 32 + 20 + 32 bytes.
    digest = token.binding_digest(1, b"\x01" * 20, b"\x02" * 32)
    packed = b"ippyo/ballot-binding/v1".ljust(32, b"\0") + (1).to_bytes(32, "big")
    assert digest == token.keccak256(packed + b"\x01" * 20 + b"\x02" * 32)
