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
from pkcs11 import Attribute, Mechanism, ObjectClass, SlotFlag, TokenFlag
from pkcs11.exceptions import (
    DeviceError,
    DeviceRemoved,
    FunctionFailed,
    GeneralError,
    NoSuchToken,
    PinExpired,
    PinIncorrect,
    TokenNotPresent,
    TokenNotRecognised,
    UserNotLoggedIn,
)
from pkcs11.exceptions import (
    PinLocked as P11PinLocked,
)

from card_reader import apdu as A
from card_reader.abc import JPKICard, normalize_signature_pin
from card_reader.errors import (
    CardError,
    CardNotPresent,
    CardProtocolError,
    CardRemoved,
    NoReader,
    NotJPKICard,
    PinLocked,
    SecurityStatusNotSatisfied,
    WrongPin,
)

SIGNATURE_TOKEN = "JPKI (Digital Signature PIN)"
AUTHENTICATION_TOKEN = "JPKI (User Authentication PIN)"
# How OpenSC's jpki emulation (pkcs15-jpki.c) names the signature objects: the key and its
# certificate share ID 02; the signature CA's certificate has ID 04 and is public, listed on
# the authentication token (the signature token shows it too on some versions).
SIGNATURE_KEY_ID = b"\x02"
SIGNATURE_KEY_LABEL = "Digital Signature Key"
SIGNATURE_CERT_LABEL = "Digital Signature Certificate"
SIGNATURE_CA_ID = b"\x04"
SIGNATURE_CA_LABEL = "Digital Signature Certificate CA"
MODULE_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so",
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

    def __init__(self, token: Any, reader: str, auth_token: Any = None) -> None:
        self._token = token
        self._auth_token = auth_token
        self._session: Any = None
        self.reader = reader

    @classmethod
    def open(cls, reader: str | None = None) -> Pkcs11Card:
        # A fresh library handle each time: OpenSC caches slot lists per initialisation.
        lib = pkcs11.lib(module_path())
        tokens: dict[str, dict[str, Any]] = {}
        unrecognised: list[str] = []
        try:
            # All slots, then the flag: asking OpenSC for slots "with a token" fails with a
            # device error when the only card is one it cannot bind.
            for slot in lib.get_slots(token_present=False):
                name = slot.slot_description.strip()
                if reader is not None and reader not in name:
                    continue
                if not slot.flags & SlotFlag.TOKEN_PRESENT:
                    continue
                try:
                    token = slot.get_token()
                except TokenNotRecognised:
                    unrecognised.append(name)
                    continue
                tokens.setdefault(name, {})[token.label.strip()] = token
        except _REMOVED as exc:
            raise CardNotPresent(str(exc)) from exc
        except (GeneralError, DeviceError) as exc:  # pcscd gone or the reader unplugged
            raise NoReader(type(exc).__name__) from exc
        for name, by_label in tokens.items():
            if SIGNATURE_TOKEN in by_label:
                return cls(by_label[SIGNATURE_TOKEN], name, by_label.get(AUTHENTICATION_TOKEN))
        if unrecognised:
            raise _why_unrecognised(unrecognised[0])
        if tokens:
            labels = sorted(label for t in tokens.values() for label in t)
            raise NotJPKICard(f"tokens {labels}")
        raise CardNotPresent("no token" + (f" in {reader}" if reader else ""))

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
            raise WrongPin(self._tries_after_failure()) from exc
        except (P11PinLocked, PinExpired) as exc:
            raise PinLocked() from exc
        except _REMOVED as exc:
            raise CardRemoved(str(exc)) from exc
        except (GeneralError, DeviceError, FunctionFailed) as exc:
            raise self._explain(exc) from exc

    def _tries_after_failure(self) -> int | None:
        try:
            return self._flags_tries()
        except PinLocked:
            return 0  # that was the last try

    def _require_session(self) -> Any:
        if self._session is None:
            raise SecurityStatusNotSatisfied("log in with the signature PIN first")
        return self._session

    @staticmethod
    def _certificates(session: Any, **match: Any) -> list[tuple[bytes | None, str, bytes]]:
        """(ID, label, DER) of the certificates on a session's token matching ``match``."""
        template: dict[Any, Any] = {Attribute.CLASS: ObjectClass.CERTIFICATE}
        if "id" in match:
            template[Attribute.ID] = match["id"]
        if "label" in match:
            template[Attribute.LABEL] = match["label"]
        found = []
        for cert in session.get_objects(template):
            try:
                object_id = bytes(cert[Attribute.ID])
            except Exception:
                object_id = None
            found.append((object_id, str(cert[Attribute.LABEL]), bytes(cert[Attribute.VALUE])))
        return found

    def read_signature_certificate(self) -> bytes:
        """The certificate that shares the signature key's ID (by label if the key has none),
        whatever its policy says."""
        session = self._require_session()
        try:
            key_ids = [
                bytes(key[Attribute.ID])
                for key in session.get_objects(
                    {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: SIGNATURE_KEY_LABEL}
                )
            ]
            for key_id in key_ids or [SIGNATURE_KEY_ID]:
                for _, _, der in self._certificates(session, id=key_id):
                    return der
            for _, _, der in self._certificates(session, label=SIGNATURE_CERT_LABEL):
                return der
        except _REMOVED as exc:
            raise CardRemoved(str(exc)) from exc
        except (GeneralError, DeviceError) as exc:
            raise self._explain(exc) from exc
        raise CardProtocolError("no signature certificate on the token")

    def read_signature_ca_certificate(self) -> bytes:
        """The signature CA's certificate: public, so no PIN is needed. OpenSC lists it on the
        authentication token; look there, then on the signature token."""
        sessions: list[tuple[Any, bool]] = []
        if self._session is not None:
            sessions.append((self._session, False))
        try:
            for token in (self._auth_token, self._token):
                if token is not None:
                    sessions.append((token.open(), True))
            for session, _ in sessions:
                for object_id, label, der in self._certificates(session):
                    if label == SIGNATURE_CA_LABEL or (
                        object_id == SIGNATURE_CA_ID and "Authentication" not in label
                    ):
                        return der
        except _REMOVED as exc:
            raise CardRemoved(str(exc)) from exc
        except (GeneralError, DeviceError) as exc:
            raise self._explain(exc) from exc
        finally:
            for session, opened_here in sessions:
                if opened_here:
                    with contextlib.suppress(Exception):
                        session.close()
        raise CardProtocolError("no signature CA certificate on either token")

    def sign_sha256(self, digest: bytes) -> bytes:
        if len(digest) != 32:
            raise ValueError("a SHA-256 digest is 32 bytes")
        session = self._require_session()
        try:
            keys = list(
                session.get_objects(
                    {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: SIGNATURE_KEY_LABEL}
                )
            ) or list(
                session.get_objects(
                    {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.ID: SIGNATURE_KEY_ID}
                )
            )
            if not keys:
                raise CardProtocolError("no signature key on the token")
            return bytes(keys[0].sign(A.SHA256_DIGEST_INFO + digest, mechanism=Mechanism.RSA_PKCS))
        except _REMOVED as exc:
            raise CardRemoved(str(exc)) from exc
        except P11PinLocked as exc:
            raise PinLocked() from exc
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


def _why_unrecognised(reader: str) -> Exception:
    """OpenSC shows no token for a card it could not bind. Its jpki emulation reads the PIN
    counters while binding and gives up on a card whose signature PIN is locked (the status
    query answers ``6983``, not ``63Cx``). Ask the card itself over PC/SC, so a locked PIN is
    reported as :class:`PinLocked` — a help-desk case — and not as "no card"."""
    from card_reader.pcsc import PcscCard

    try:
        with PcscCard.connect(reader) as card:
            card.signature_pin_tries_left()
    except PinLocked as exc:
        return exc
    except CardError as exc:
        return exc
    return CardProtocolError(f"OpenSC did not recognise the card in {reader}")
