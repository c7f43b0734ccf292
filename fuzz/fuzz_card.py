"""Fuzz targets (atheris) for everything the card layer parses from outside.

    .venv/bin/python fuzz/fuzz_card.py certificate -runs=100000
    .venv/bin/python fuzz/fuzz_card.py response -runs=100000
    .venv/bin/python fuzz/fuzz_card.py command -runs=100000

- certificate: ``parse_signature_certificate`` may only raise ``CertificateError``;
- response: the PC/SC client fed arbitrary card answers (data + status word) may only raise
  ``CardError`` (never IndexError, never loop forever);
- command: the virtual card answers any command APDU with data + a status word, never raises.
CI runs each briefly (tests/card_reader/test_fuzz.py).
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import atheris

with atheris.instrument_imports():
    from card_reader import apdu as A
    from card_reader.certificate import parse_signature_certificate
    from card_reader.errors import CardError, CertificateError
    from card_reader.pcsc import PcscCard
    from card_reader.virtual_card import JPKIApplet


def certificate(data: bytes) -> None:
    with contextlib.suppress(CertificateError):
        parse_signature_certificate(data)


class _ScriptedConnection:
    """Answers each transmit with the next fuzzer-chosen response."""

    def __init__(self, fdp: Any) -> None:
        self.fdp = fdp
        self.calls = 0

    def transmit(self, command: list[int]) -> tuple[list[int], int, int]:
        self.calls += 1
        if self.calls > 64:
            raise AssertionError("the client sent more than 64 APDUs for one operation")
        size = self.fdp.ConsumeIntInRange(0, 300)
        data = list(self.fdp.ConsumeBytes(size))
        return data, self.fdp.ConsumeIntInRange(0, 255), self.fdp.ConsumeIntInRange(0, 255)

    def disconnect(self) -> None:
        pass


def response(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    card = PcscCard(_ScriptedConnection(fdp), "fuzz")
    operation = fdp.ConsumeIntInRange(0, 3)
    try:
        if operation == 0:
            card.read_signature_certificate()
        elif operation == 1:
            card.verify_signature_pin("ABC123")
        elif operation == 2:
            card.signature_pin_tries_left()
        else:
            card.sign_sha256(bytes(32))
    except CardError:
        pass


_APPLET: JPKIApplet | None = None


def command(data: bytes) -> None:
    global _APPLET
    if _APPLET is None:
        from card_reader.testpki import CertificateAuthority, make_card

        _APPLET = JPKIApplet(make_card(CertificateAuthority.create()).to_image())
        _APPLET.process(A.select_aid(A.JPKI_AID))
    answer = _APPLET.process(data)
    assert len(answer) >= 2


TARGETS = {"certificate": certificate, "response": response, "command": command}

if __name__ == "__main__":
    target = TARGETS[sys.argv.pop(1)]
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()
