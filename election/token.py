"""The ballot token: eligibility without identity.

A token is a one-time secp256k1 key derived from the voter's card:

    card_signature = card.sign(token_request_digest(election_id))   # PKCS#1 v1.5: deterministic
    sk = H("ippyo/token-key", election_id, card_signature) mod N

Its id is the key's Ethereum address. The registrar blind-signs
:func:`token_message` ``= election_id ‖ address`` (RFC 9474, :data:`Variant.IPPYO`) without
seeing it, and the ballot transaction carries an ECDSA signature by the token key over
(chain id, contract, ballot hash) — :func:`binding_digest` — which the contract ``ecrecover``s,
so nobody who sees the transaction can move the token onto another ballot.

The card signs only digests built here, each with its own domain tag: a registrar that could
choose what the card signs could compute the voter's token.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from coincurve import PrivateKey, PublicKey
from Crypto.Hash import keccak

from election.errors import EncodingError, InvalidSignature
from election.primitives import blind_rsa
from election.primitives.group import N
from election.primitives.hashing import hash_bytes

#: bytes32("ippyo/ballot-binding/v1"): the contract's string literal, zero-padded on the right.
BINDING_TAG: Final = b"ippyo/ballot-binding/v1".ljust(32, b"\x00")
_HALF_N: Final = N // 2


def keccak256(data: bytes) -> bytes:
    return bytes(keccak.new(digest_bits=256, data=data).digest())


def _check_len(name: str, value: bytes, length: int) -> None:
    if len(value) != length:
        raise EncodingError(f"{name} must be {length} bytes, got {len(value)}")


@dataclass(frozen=True, slots=True)
class TokenKey:
    """A ballot token's key pair. ``secret`` never leaves the kiosk."""

    secret: int
    address: bytes
    """20-byte Ethereum address of the public key: the token id."""

    @staticmethod
    def from_secret(secret: int) -> TokenKey:
        if not 0 < secret < N:
            raise EncodingError("a token secret must be in [1, N)")
        public = PublicKey.from_valid_secret(secret.to_bytes(32, "big"))
        return TokenKey(secret, address_of(public.format(compressed=False)))

    @property
    def address_hex(self) -> str:
        return "0x" + self.address.hex()


def address_of(uncompressed_public_key: bytes) -> bytes:
    """Ethereum address: the last 20 bytes of keccak256 of the 64-byte public key."""
    _check_len("an uncompressed public key", uncompressed_public_key, 65)
    return keccak256(uncompressed_public_key[1:])[12:]


def token_request_digest(election_id: bytes) -> bytes:
    """The 32-byte digest the card signs to derive the voter's token for an election."""
    _check_len("an election id", election_id, 32)
    return hash_bytes("ippyo/token", election_id)


def challenge_digest(registrar_nonce: bytes, kiosk_id: str) -> bytes:
    """The 32-byte digest the card signs to prove possession to the registrar."""
    if not 16 <= len(registrar_nonce) <= 64:
        raise EncodingError("a registrar nonce is 16 to 64 bytes")
    if not kiosk_id:
        raise EncodingError("a kiosk id is required")
    return hash_bytes("ippyo/challenge", registrar_nonce, kiosk_id)


def derive_token(election_id: bytes, card_signature: bytes) -> TokenKey:
    """The voter's token for this election, from the card's signature on the request digest."""
    _check_len("an election id", election_id, 32)
    if len(card_signature) < 128:
        raise EncodingError("a card signature is an RSA signature of at least 1024 bits")
    secret = int.from_bytes(hash_bytes("ippyo/token-key", election_id, card_signature), "big") % N
    return TokenKey.from_secret(secret or 1)


def token_message(election_id: bytes, token_address: bytes) -> bytes:
    """What the registrar blind-signs: ``election_id ‖ address`` (abi.encodePacked)."""
    _check_len("an election id", election_id, 32)
    _check_len("a token address", token_address, 20)
    return election_id + token_address


def blinding_factor(election_id: bytes, card_signature: bytes, modulus: int) -> int:
    """The blinding factor r, derived from the card so that a re-issue after a crash sends the
    same blinded message and gets the same answer. Uniform modulo n up to 2^-128."""
    size = (modulus.bit_length() + 7) // 8 + 16
    stream = b"".join(
        hashlib.sha256(hash_bytes("ippyo/blinding", election_id, card_signature, i)).digest()
        for i in range((size + 31) // 32)
    )
    return int.from_bytes(stream[:size], "big") % modulus or 1


def blind_token(
    registrar_key: blind_rsa.RSAPublicKey, election_id: bytes, card_signature: bytes
) -> tuple[TokenKey, blind_rsa.BlindingResult]:
    """The kiosk's step: derive the token, blind its message for the registrar."""
    token = derive_token(election_id, card_signature)
    blinded = blind_rsa.blind(
        registrar_key,
        blind_rsa.Variant.IPPYO,
        token_message(election_id, token.address),
        salt=b"",
        r=blinding_factor(election_id, card_signature, registrar_key.n),
    )
    return token, blinded


def finalize_token(
    registrar_key: blind_rsa.RSAPublicKey,
    election_id: bytes,
    token: TokenKey,
    blind_signature: bytes,
    blinding: blind_rsa.BlindingResult,
) -> bytes:
    """Unblind the registrar's answer into the token's signature (verified)."""
    return blind_rsa.finalize(
        registrar_key,
        blind_rsa.Variant.IPPYO,
        token_message(election_id, token.address),
        blind_signature,
        blinding.inv,
    )


def verify_token_signature(
    registrar_key: blind_rsa.RSAPublicKey,
    election_id: bytes,
    token_address: bytes,
    signature: bytes,
) -> None:
    """The registrar's signature on a token: ``None`` or :class:`InvalidSignature`."""
    blind_rsa.verify(
        registrar_key, blind_rsa.Variant.IPPYO, token_message(election_id, token_address), signature
    )


def binding_digest(chain_id: int, contract_address: bytes, ballot_hash: bytes) -> bytes:
    """keccak256(abi.encodePacked(bytes32 tag, uint256 chainId, address contract, bytes32 hash))."""
    _check_len("a contract address", contract_address, 20)
    _check_len("a ballot hash", ballot_hash, 32)
    if not 0 < chain_id < 1 << 256:
        raise EncodingError("chain id out of range")
    return keccak256(BINDING_TAG + chain_id.to_bytes(32, "big") + contract_address + ballot_hash)


def sign_binding(
    token: TokenKey, chain_id: int, contract_address: bytes, ballot_hash: bytes
) -> bytes:
    """65 bytes r ‖ s ‖ v (v ∈ {27, 28}, low s), as ``ecrecover`` expects."""
    digest = binding_digest(chain_id, contract_address, ballot_hash)
    sig = PrivateKey(token.secret.to_bytes(32, "big")).sign_recoverable(digest, hasher=None)
    return sig[:64] + bytes([27 + sig[64]])


def verify_binding(
    token_address: bytes,
    chain_id: int,
    contract_address: bytes,
    ballot_hash: bytes,
    signature: bytes,
) -> None:
    """The token key's signature over the ballot: ``None`` or :class:`InvalidSignature`.
    Applies the contract's rules: 65 bytes, v ∈ {27, 28}, s in the lower half, r and s ≠ 0."""
    if len(signature) != 65:
        raise InvalidSignature(f"a binding signature is 65 bytes, got {len(signature)}")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v not in (27, 28):
        raise InvalidSignature("binding signature: v must be 27 or 28")
    if not 0 < r < N or not 0 < s <= _HALF_N:
        raise InvalidSignature("binding signature: r or s out of range (high s is malleable)")
    digest = binding_digest(chain_id, contract_address, ballot_hash)
    try:
        public = PublicKey.from_signature_and_message(
            signature[:64] + bytes([v - 27]), digest, hasher=None
        )
    except ValueError as exc:
        raise InvalidSignature("binding signature: no key recovers from it") from exc
    if address_of(public.format(compressed=False)) != token_address:
        raise InvalidSignature("binding signature was made by another token's key")
