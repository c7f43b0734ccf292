"""Fuzz targets (atheris) for everything the card layer parses from outside.

    .venv/bin/python fuzz/fuzz_card.py certificate -runs=100000
    .venv/bin/python fuzz/fuzz_card.py response -runs=100000
    .venv/bin/python fuzz/fuzz_card.py command -runs=100000

- certificate: ``parse_signature_certificate`` may only raise ``CertificateError``;
- response: the PC/SC client fed arbitrary card answers (data + status word) may only raise
  ``CardError`` (never IndexError, never loop forever);
- command: the virtual card answers any command APDU with data + a status word, never raises;
  ``parse_command`` either refuses it (ValueError → 6700) or splits it into fields that
  re-encode to exactly the bytes given; a signature answer ``9000`` only ever comes with a
  256-byte signature over a non-empty payload.
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
    try:
        parsed = A.parse_command(data)
    except ValueError:
        parsed = None
    if parsed is not None:
        assert _encode(parsed) == data, (parsed, data.hex())
    answer = _APPLET.process(data)
    assert len(answer) >= 2
    if parsed is None:
        assert answer == b"\x67\x00"
    elif parsed.ins == 0x2A and answer[-2:] == b"\x90\x00":
        assert parsed.data and len(answer) == 258


def _encode(c: A.Command) -> bytes:
    """The bytes of a parsed command again (the parser's inverse, for the fuzz check)."""
    out = bytes([c.cla, c.ins, c.p1, c.p2])
    if c.extended:
        if c.data:
            out += b"\x00" + len(c.data).to_bytes(2, "big") + c.data
        if c.le is not None:
            out += (b"" if c.data else b"\x00") + (c.le % 65536).to_bytes(2, "big")
        return out
    if c.data:
        out += bytes([len(c.data)]) + c.data
    if c.le is not None:
        out += bytes([c.le % 256])
    return out


TARGETS = {"certificate": certificate, "response": response, "command": command}

if __name__ == "__main__":
    target = TARGETS[sys.argv.pop(1)]
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()
