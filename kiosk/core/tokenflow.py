"""THE token flow: from an open card (signature PIN verified) to a verified ballot token.

One function, used by the kiosk, the demo and the benchmarks. The order matters:

1. the registrar's key and election id are compared with the ones pinned in the contract
   *before* anything is blinded — a registrar with another key could otherwise hand out tokens
   the contract refuses, or link requests to a key it controls;
2. the card signs only digests built here (:func:`election.token.token_request_digest`,
   :func:`election.token.challenge_digest`), each with its own domain tag;
3. token and blinding factor both derive from the card's deterministic signature, so a kiosk
   restarted mid-issuance sends the registrar the very same blinded value (the registrar
   refuses a *different* blinded value for a person it has served);
4. the unblinded signature is verified before the token is used.

The certificate and the card's signatures live only in this function's frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from election import token as tokens
from election.primitives.blind_rsa import RSAPublicKey


class TokenFlowError(Exception):
    """Base of the token flow's own refusals (the registrar's are ``RegistrarRefused``)."""

    code = "token_flow"


class RegistrarKeyMismatch(TokenFlowError):
    """The registrar signs with a key other than the one pinned in the contract."""

    code = "registrar_key_mismatch"

    def __init__(self) -> None:
        super().__init__(
            "登録所の鍵が選挙の契約と一致しません / the registrar's key differs from the key "
            "pinned in the election contract"
        )


class ElectionMismatch(TokenFlowError):
    """The registrar serves another election."""

    code = "election_mismatch"

    def __init__(self) -> None:
        super().__init__(
            "登録所は別の選挙を扱っています / the registrar serves a different election"
        )


class SigningCard(Protocol):
    """What the flow needs from a card (:class:`card_reader.abc.JPKICard` has it)."""

    def read_signature_certificate(self) -> bytes: ...

    def sign_sha256(self, digest: bytes) -> bytes: ...


class Registrar(Protocol):
    """What the flow needs from the registrar (:class:`registrar.client.RegistrarClient`)."""

    kiosk_id: str

    def info(self) -> tuple[bytes, RSAPublicKey]: ...

    def challenge(self) -> bytes: ...

    def issue(
        self, nonce: bytes, certificate: bytes, card_signature: bytes, blinded_token: bytes
    ) -> bytes: ...


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A ballot token with the registrar's (unblinded, verified) signature. No identity."""

    key: tokens.TokenKey
    signature: bytes

    @property
    def address(self) -> bytes:
        return self.key.address


def check_registrar_key(registrar: Registrar, election_id: bytes, pinned_key: RSAPublicKey) -> None:
    """Raise :class:`RegistrarKeyMismatch` / :class:`ElectionMismatch` unless the registrar
    serves this election with the key pinned in the contract."""
    served_election, served_key = registrar.info()
    if served_election != election_id:
        raise ElectionMismatch()
    if (served_key.n, served_key.e) != (pinned_key.n, pinned_key.e):
        raise RegistrarKeyMismatch()


def pinned_key_of(modulus: bytes, exponent: bytes) -> RSAPublicKey:
    """The registrar key as the contract stores it (``BallotBox.registrar_key()``)."""
    return RSAPublicKey(int.from_bytes(modulus, "big"), int.from_bytes(exponent, "big"))


def obtain_token(
    card: SigningCard, registrar: Registrar, election_id: bytes, pinned_key: RSAPublicKey
) -> IssuedToken:
    """Run issuance for the card in the reader (its signature PIN already verified).

    Raises :class:`TokenFlowError`, ``registrar.client.RegistrarRefused`` /
    ``RegistrarUnavailable``, the card's ``CardError`` s, or ``InvalidSignature`` if the
    registrar's answer does not unblind to a valid signature.
    """
    check_registrar_key(registrar, election_id, pinned_key)
    certificate = card.read_signature_certificate()
    token_request = card.sign_sha256(tokens.token_request_digest(election_id))
    token, blinding = tokens.blind_token(pinned_key, election_id, token_request)
    nonce = registrar.challenge()
    proof = card.sign_sha256(tokens.challenge_digest(nonce, registrar.kiosk_id))
    blind_signature = registrar.issue(nonce, certificate, proof, blinding.blinded_msg)
    signature = tokens.finalize_token(pinned_key, election_id, token, blind_signature, blinding)
    tokens.verify_token_signature(pinned_key, election_id, token.address, signature)
    return IssuedToken(token, signature)
