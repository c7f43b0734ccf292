"""The registrar's blind signer: a key file (embedded default) or a PKCS#11 token (SoftHSM2
in tests, an HSM in production), where the key never leaves the token. Both check
``signature^e = blinded`` before answering (RFC 9474's fault-attack defence)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

from election.errors import EncodingError
from election.primitives import blind_rsa
from election.primitives.blind_rsa import RSAPublicKey


class BlindSigner(Protocol):
    public_key: RSAPublicKey

    def blind_sign(self, blinded: bytes) -> bytes: ...


class KeyFileSigner:
    def __init__(self, path: Path) -> None:
        self._key = blind_rsa.private_key_from_pem(path.read_bytes())
        self.public_key = self._key.public_key

    def blind_sign(self, blinded: bytes) -> bytes:
        return blind_rsa.blind_sign(self._key, blinded)

    @staticmethod
    def generate(path: Path, bits: int = 2048) -> RSAPublicKey:
        key = blind_rsa.generate_key(bits)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_bytes(blind_rsa.private_key_to_pem(key))
        return key.public_key


class Pkcs11Signer:
    """Raw RSA (CKM_RSA_X_509) with a private key inside a PKCS#11 token."""

    def __init__(self, module: str, token_label: str, pin: str, key_label: str) -> None:
        import pkcs11
        from pkcs11 import Attribute, KeyType, ObjectClass

        self._pkcs11 = pkcs11
        token = pkcs11.lib(module).get_token(token_label=token_label)
        self._session = token.open(user_pin=pin)
        self._lock = threading.Lock()
        self._key = self._session.get_key(
            key_type=KeyType.RSA, object_class=ObjectClass.PRIVATE_KEY, label=key_label
        )
        public = self._session.get_key(
            key_type=KeyType.RSA, object_class=ObjectClass.PUBLIC_KEY, label=key_label
        )
        self.public_key = RSAPublicKey(
            int.from_bytes(public[Attribute.MODULUS], "big"),
            int.from_bytes(public[Attribute.PUBLIC_EXPONENT], "big"),
        )

    def blind_sign(self, blinded: bytes) -> bytes:
        k = self.public_key.size
        if len(blinded) != k or int.from_bytes(blinded, "big") >= self.public_key.n:
            raise EncodingError(f"a blinded message is {k} bytes below the modulus")
        with self._lock:  # one PKCS#11 session is not to be shared by threads at once
            signature = bytes(
                self._key.sign(blinded, mechanism=self._pkcs11.Mechanism.RSA_X_509)  # type: ignore[attr-defined]
            )
        signature = signature.rjust(k, b"\0")
        blind_rsa.check_blind_signature(self.public_key, blinded, signature)
        return signature

    @staticmethod
    def generate(
        module: str, token_label: str, pin: str, key_label: str, bits: int = 2048
    ) -> RSAPublicKey:
        import pkcs11
        from pkcs11 import Attribute, KeyType

        token = pkcs11.lib(module).get_token(token_label=token_label)
        with token.open(rw=True, user_pin=pin) as session:
            public, _ = session.generate_keypair(
                KeyType.RSA,
                bits,
                label=key_label,
                store=True,
                private_template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False},
            )
            return RSAPublicKey(
                int.from_bytes(public[Attribute.MODULUS], "big"),
                int.from_bytes(public[Attribute.PUBLIC_EXPONENT], "big"),
            )
