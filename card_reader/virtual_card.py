"""A virtual My Number card: the JPKI applet at the APDU level, served to a real PC/SC stack.

:class:`JPKIApplet` answers command APDUs exactly as JPKI.md describes the card (SELECT by AID
and by EF, READ BINARY on padded certificate EFs, VERIFY with PIN counters and locking, COMPUTE
DIGITAL SIGNATURE with PKCS#1 v1.5 padding, ``6A82`` for every unknown application).
:class:`VpcdCard` plugs an applet into vsmartcard's vpcd reader driver: pcscd then sees a card
in "Virtual PCD 00 00", and pyscard, OpenSC and the kiosk use it like a real one.

TEST CARDS ONLY: the applet is built from a card image that holds private keys.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from card_reader import apdu as A

CERT_EF_SIZE = 2048  # certificate EFs are fixed-size; the DER is padded after its end
VPCD_PORT_BASE = 35963


@dataclass
class _Pin:
    value: bytes
    tries_left: int
    max_tries: int
    verified: bool = False


class JPKIApplet:
    """The card's logic. ``process(command) -> response`` (data ‖ SW1 SW2)."""

    def __init__(self, image: dict[str, Any]) -> None:
        if image.get("format") != "ippyo/jpki-test-card-image":
            raise ValueError("not an ippyo test card image")
        sig, auth = image["signature"], image["authentication"]

        def padded(b64: str) -> bytes:
            der = base64.b64decode(b64)
            return der + bytes(max(0, CERT_EF_SIZE - len(der)))

        self.files: dict[int, bytes] = {
            A.EF_TOKEN_INFO: A.TOKEN_INFO_CARD,
            A.EF_SIGN_CERT: padded(sig["certificate"]),
            A.EF_SIGN_CA_CERT: padded(sig["ca_certificate"]),
            A.EF_AUTH_CERT: padded(auth["certificate"]),
            A.EF_AUTH_CA_CERT: padded(auth["ca_certificate"]),
        }
        self.keys = {A.EF_SIGN_KEY: _load_key(sig["key"]), A.EF_AUTH_KEY: _load_key(auth["key"])}
        self.pins = {
            A.EF_SIGN_PIN: _Pin(sig["pin"].encode("ascii"), int(sig["tries_left"]), 5),
            A.EF_AUTH_PIN: _Pin(auth["pin"].encode("ascii"), int(auth["tries_left"]), 3),
        }
        # What the PIN status query answers once a PIN is locked: ``6983`` (authentication
        # method blocked) or ``63C0`` (no tries left); JPKI.md treats both as locked.
        self.locked_status = int(image.get("locked_status", "6983"), 16)
        self.commands = 0
        self.reset()

    @classmethod
    def from_file(cls, path: Path) -> JPKIApplet:
        return cls(json.loads(path.read_text("utf-8")))

    def reset(self) -> None:
        """Power-on or reset: nothing selected, no PIN verified."""
        self.selected_app = False
        self.current: int | None = None
        for pin in self.pins.values():
            pin.verified = False

    # --- APDU dispatch ---------------------------------------------------------------------------
    def process(self, command: bytes) -> bytes:
        self.commands += 1
        try:
            apdu = A.parse_command(command)
        except ValueError:
            return _sw(A.SW_WRONG_LENGTH)
        if apdu.cla not in (0x00, 0x80):
            return _sw(A.SW_CLA_NOT_SUPPORTED)
        if apdu.ins == 0xA4:
            return self._select(apdu)
        if apdu.ins == 0xB0:
            return self._read_binary(apdu)
        if apdu.ins == 0x20:
            return self._verify(apdu)
        if apdu.ins == 0x2A and apdu.cla == 0x80:
            return self._sign(apdu)
        return _sw(A.SW_INS_NOT_SUPPORTED)

    def _select(self, apdu: A.Command) -> bytes:
        data = apdu.data
        if not data:
            return _sw(A.SW_WRONG_LENGTH)
        if apdu.p1 == 0x04:  # by AID: only the JPKI applet exists here
            if data != A.JPKI_AID:
                return _sw(A.SW_FILE_NOT_FOUND)
            self.reset()
            self.selected_app = True
            return _sw(A.SW_OK)
        if apdu.p1 == 0x02:  # EF under the current application
            if not self.selected_app or len(data) != 2:
                return _sw(A.SW_FILE_NOT_FOUND)
            fid = int.from_bytes(data, "big")
            if fid not in self.files and fid not in self.keys and fid not in self.pins:
                return _sw(A.SW_FILE_NOT_FOUND)
            self.current = fid
            return _sw(A.SW_OK)
        return _sw(A.SW_WRONG_P1P2)

    def _read_binary(self, apdu: A.Command) -> bytes:
        if self.current not in self.files:
            return _sw(A.SW_CONDITIONS_NOT_SATISFIED)
        if self.current == A.EF_SIGN_CERT and not self.pins[A.EF_SIGN_PIN].verified:
            return _sw(A.SW_SECURITY_NOT_SATISFIED)
        if apdu.data:
            return _sw(A.SW_WRONG_LENGTH)
        offset = ((apdu.p1 & 0x7F) << 8) | apdu.p2
        le = apdu.le or 256  # short or extended: as many bytes as asked, up to the file's end
        data = self.files[self.current]
        if offset > len(data):
            return _sw(A.SW_WRONG_P1P2)
        chunk = data[offset : offset + le]
        return chunk + (_sw(A.SW_OK) if len(chunk) == le else bytes([0x62, 0x82]))

    def _verify(self, apdu: A.Command) -> bytes:
        pin = self.pins.get(self.current or -1)
        if pin is None or apdu.p1 != 0x00 or apdu.p2 != 0x80:
            return _sw(A.SW_CONDITIONS_NOT_SATISFIED if pin is None else A.SW_WRONG_P1P2)
        if pin.tries_left == 0:
            return _sw(self.locked_status if not apdu.data else A.SW_AUTH_BLOCKED)
        if not apdu.data:  # status query
            return _sw(A.SW_OK) if pin.verified else bytes([0x63, 0xC0 | pin.tries_left])
        if apdu.data == pin.value:
            pin.tries_left = pin.max_tries
            pin.verified = True
            return _sw(A.SW_OK)
        pin.tries_left -= 1
        pin.verified = False
        return bytes([0x63, 0xC0 | pin.tries_left])

    def _sign(self, apdu: A.Command) -> bytes:
        key = self.keys.get(self.current or -1)
        if key is None:
            return _sw(A.SW_CONDITIONS_NOT_SATISFIED)
        pin_ef = A.EF_SIGN_PIN if self.current == A.EF_SIGN_KEY else A.EF_AUTH_PIN
        if not self.pins[pin_ef].verified:
            return _sw(A.SW_SECURITY_NOT_SATISFIED)
        if apdu.p1 != 0x00 or apdu.p2 != 0x80:
            return _sw(A.SW_WRONG_P1P2)
        digest_info = apdu.data
        k = key.key_size // 8
        # Nothing to sign, more than PKCS#1 v1.5 can pad, or a response that cannot fit the
        # Le asked for: refused, never a signature over something else.
        if not digest_info or len(digest_info) > k - 11:
            return _sw(A.SW_WRONG_LENGTH)
        if apdu.le is not None and apdu.le < k:
            return _sw(A.SW_WRONG_LENGTH)
        # EMSA-PKCS1-v1_5 over the DigestInfo the host sent, then the raw RSA private operation.
        em = b"\x00\x01" + b"\xff" * (k - 3 - len(digest_info)) + b"\x00" + digest_info
        numbers = key.private_numbers()
        s = pow(int.from_bytes(em, "big"), numbers.d, numbers.public_numbers.n)
        return s.to_bytes(k, "big") + _sw(A.SW_OK)


def _sw(sw: int) -> bytes:
    return sw.to_bytes(2, "big")


def _load_key(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("card keys are RSA")
    return key


class VpcdCard:
    """Serves an applet to vpcd: connecting is inserting the card, closing is pulling it."""

    def __init__(
        self,
        applet: JPKIApplet,
        *,
        reader: int = 0,
        host: str = "127.0.0.1",
        atr: bytes = A.JPKI_ATR,
    ) -> None:
        self.applet = applet
        self.address = (host, VPCD_PORT_BASE + reader)
        self.atr = atr
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def insert(self, timeout: float = 5.0) -> None:
        sock = socket.create_connection(self.address, timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(None)
        self._sock = sock
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name="vpcd-card", daemon=True)
        self._thread.start()

    def remove(self) -> None:
        """Pull the card: vpcd reports it absent, and any command in flight fails."""
        self._stop.set()
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
            self._sock = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def serve_forever(self) -> None:
        """Insert and serve until vpcd goes away (for ``ippyo card insert``)."""
        self.insert()
        assert self._thread is not None
        self._thread.join()

    def _serve(self) -> None:
        sock = self._sock
        assert sock is not None
        try:
            while not self._stop.is_set():
                header = _recv_exact(sock, 2)
                if header is None:
                    return
                (length,) = struct.unpack(">H", header)
                payload = _recv_exact(sock, length)
                if payload is None:
                    return
                if length == 1:
                    control = payload[0]
                    if control in (1, 2):  # power on, reset
                        self.applet.reset()
                    elif control == 4:  # get ATR
                        sock.sendall(struct.pack(">H", len(self.atr)) + self.atr)
                    continue
                response = self.applet.process(payload)
                sock.sendall(struct.pack(">H", len(response)) + response)
        except OSError:
            return


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        # Without quick ACKs each APDU waits ~40 ms on delayed ACKs; Linux clears the flag
        # after every receive, so set it again each time.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data
