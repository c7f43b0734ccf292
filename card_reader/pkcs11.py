"""The JPKI client through PKCS#11: python-pkcs11 over OpenSC's module and its ``jpki`` driver.

OpenSC shows the card as two tokens; the signature side is "JPKI (Digital Signature PIN)", and
its certificate appears only after login. PKCS#11 reports PIN state only as flags (count low,
final try, locked), so this backend's tries-left is ``None`` unless one of those is set.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import pkcs11
from pkcs11 import Attribute, Mechanism, ObjectClass, TokenFlag
from pkcs11.exceptions import (
    DeviceError,
    DeviceRemoved,
    GeneralError,
    NoSuchToken,
    PinIncorrect,
    TokenNotPresent,
    UserNotLoggedIn,
)
from pkcs11.exceptions import (
    PinLocked as P11PinLocked,
)

from card_reader import apdu as A
from card_reader.abc import JPKICard, normalize_signature_pin
from card_reader.errors import (
    CardNotPresent,
    CardProtocolError,
    CardRemoved,
    NoReader,
    PinLocked,
    SecurityStatusNotSatisfied,
    WrongPin,
)

SIGNATURE_TOKEN = "JPKI (Digital Signature PIN)"
MODULE_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/opensc-pkcs11.so",
)
_REMOVED = (DeviceRemoved, TokenNotPresent)


def module_path() -> str:
    configured = os.environ.get("IPPYO_PKCS11_MODULE")
    if configured:
        return configured
    for candidate in MODULE_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    raise NoReader("OpenSC's PKCS#11 module is not installed (package opensc-pkcs11)")


class Pkcs11Card(JPKICard):
    backend = "pkcs11"

    def __init__(self, token: Any, reader: str) -> None:
        self._token = token
        self._session: Any = None
        self.reader = reader

    @classmethod
    def open(cls, reader: str | None = None) -> Pkcs11Card:
        # A fresh library handle each time: OpenSC caches slot lists per initialisation.
        lib = pkcs11.lib(module_path())
        try:
            slots = lib.get_slots(token_present=True)
        except _REMOVED as exc:
            raise CardNotPresent(str(exc)) from exc
        for slot in slots:
            if reader is not None and reader not in slot.slot_description:
                continue
            token = slot.get_token()
            if token.label == SIGNATURE_TOKEN:
                return cls(token, slot.slot_description.strip())
        raise CardNotPresent(f"no '{SIGNATURE_TOKEN}' token")

    def _flags_tries(self) -> int | None:
        flags = self._token.flags
        if flags & TokenFlag.USER_PIN_LOCKED:
            raise PinLocked()
        if flags & TokenFlag.USER_PIN_FINAL_TRY:
            return 1
        return None

    def signature_pin_tries_left(self) -> int | None:
        return self._flags_tries()

    def verify_signature_pin(self, pin: str) -> None:
        value = normalize_signature_pin(pin).decode()
        self._flags_tries()
        try:
            self._session = self._token.open(user_pin=value)
        except PinIncorrect as exc:
            raise WrongPin(self._flags_tries()) from exc
        except P11PinLocked as exc:
            raise PinLocked() from exc
        except _REMOVED as exc:
            raise CardRemoved(str(exc)) from exc

    def _require_session(self) -> Any:
        if self._session is None:
            raise SecurityStatusNotSatisfied("log in with the signature PIN first")
        return self._session

    def read_signature_certificate(self) -> bytes:
        session = self._require_session()
        try:
            for cert in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE}):
                der = bytes(cert[Attribute.VALUE])
                if b"\x06\x0a\x2a\x83\x08\x8c\x9b\x55\x08\x05\x01\x01" in der:  # policy …8.5.1.1
                    return der
        except _REMOVED as exc:
            raise CardRemoved(str(exc)) from exc
        raise CardProtocolError("no signature certificate on the token")

    def read_signature_ca_certificate(self) -> bytes:
        session = self._require_session()
        certs = [
            bytes(c[Attribute.VALUE])
            for c in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE})
        ]
        signature = self.read_signature_certificate()
        others = [c for c in certs if c != signature]
        if not others:
            raise CardProtocolError("no CA certificate on the token")
        return others[0]

    def sign_sha256(self, digest: bytes) -> bytes:
        if len(digest) != 32:
            raise ValueError("a SHA-256 digest is 32 bytes")
        session = self._require_session()
        try:
            key = session.get_key(object_class=ObjectClass.PRIVATE_KEY)
            return bytes(key.sign(A.SHA256_DIGEST_INFO + digest, mechanism=Mechanism.RSA_PKCS))
        except _REMOVED as exc:
            raise CardRemoved(str(exc)) from exc
        except (GeneralError, DeviceError) as exc:
            raise self._explain(exc) from exc
        except (UserNotLoggedIn, NoSuchToken) as exc:
            raise SecurityStatusNotSatisfied(str(exc)) from exc

    def _explain(self, exc: Exception) -> Exception:
        """OpenSC reports a pulled card as a general or device error: ask pcscd which it was."""
        from card_reader.pcsc import wait_for_reader_state

        try:  # pcscd notices a removal at its next poll (~0.4 s)
            wait_for_reader_state(self.reader, False, timeout=1.5)
        except CardNotPresent:
            return CardProtocolError(type(exc).__name__)
        return CardRemoved(type(exc).__name__)

    def close(self) -> None:
        if self._session is not None:
            with contextlib.suppress(Exception):
                self._session.close()
            self._session = None
