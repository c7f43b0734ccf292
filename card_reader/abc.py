"""The interface every card backend implements, and the backend factory.

Two backends reach the same card: :mod:`card_reader.pcsc` speaks APDUs through pyscard, and
:mod:`card_reader.pkcs11` goes through OpenSC's PKCS#11 module (its ``jpki`` driver). The kiosk
chooses one by configuration (``IPPYO_CARD_BACKEND=pcsc|pkcs11``); both pass the same
conformance tests (``tests/card_reader/test_conformance.py``).
"""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod

from card_reader.errors import InvalidPinFormat

_PIN = re.compile(r"^[A-Z0-9]{6,16}$")


def normalize_signature_pin(pin: str) -> bytes:
    """The signature PIN as the card wants it: upper case, 6–16 of A–Z and 0–9.

    A PIN that cannot be right is refused here, before it reaches the card, so a typing slip
    never costs one of the five tries.
    """
    text = pin.strip().upper()
    if not _PIN.match(text):
        raise InvalidPinFormat()
    return text.encode("ascii")


class JPKICard(ABC):
    """One inserted My Number card, its JPKI application selected."""

    backend: str

    @abstractmethod
    def signature_pin_tries_left(self) -> int | None:
        """Tries left for the signature PIN (5 when fresh), without using one. ``None`` when
        the backend can only tell "several". Raises :class:`PinLocked` when locked."""

    @abstractmethod
    def verify_signature_pin(self, pin: str) -> None:
        """Verify once — never retried. Raises WrongPin (with tries left), PinLocked,
        InvalidPinFormat, CardRemoved."""

    @abstractmethod
    def read_signature_certificate(self) -> bytes:
        """DER of the signature certificate (needs the signature PIN)."""

    @abstractmethod
    def read_signature_ca_certificate(self) -> bytes:
        """DER of the signature CA's certificate."""

    @abstractmethod
    def sign_sha256(self, digest: bytes) -> bytes:
        """PKCS#1 v1.5 signature over DigestInfo(SHA-256, digest) with the signature key."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> JPKICard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_card(backend: str | None = None, reader: str | None = None) -> JPKICard:
    """Open the card with the configured backend (argument, else $IPPYO_CARD_BACKEND, else pcsc)."""
    backend = backend or os.environ.get("IPPYO_CARD_BACKEND", "pcsc")
    if backend == "pcsc":
        from card_reader.pcsc import PcscCard

        return PcscCard.connect(reader)
    if backend == "pkcs11":
        from card_reader.pkcs11 import Pkcs11Card

        return Pkcs11Card.open(reader)
    raise ValueError(f"unknown card backend {backend!r}: use 'pcsc' or 'pkcs11'")
