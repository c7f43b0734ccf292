"""The JPKI client over PC/SC (pyscard): APDUs, typed outcomes, card monitoring."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from smartcard.CardMonitoring import CardMonitor, CardObserver
from smartcard.Exceptions import CardConnectionException, NoCardException
from smartcard.System import readers

from card_reader import apdu as A
from card_reader.abc import JPKICard, normalize_signature_pin
from card_reader.errors import (
    CardNotPresent,
    CardProtocolError,
    CardRemoved,
    NoReader,
    NotJPKICard,
    PinLocked,
    SecurityStatusNotSatisfied,
    WrongPin,
)

LOCKED = {0x63C0, A.SW_AUTH_BLOCKED, A.SW_REF_DATA_NOT_USABLE}


def reader_names() -> list[str]:
    try:
        return [str(r) for r in readers()]
    except Exception:
        return []


def _release(conn: Any) -> None:
    """Disconnect and release a pyscard connection's PC/SC context (never raises)."""
    for step in (conn.disconnect, getattr(conn, "release", None)):
        if step is not None:
            with contextlib.suppress(Exception):
                step()


class PcscCard(JPKICard):
    backend = "pcsc"

    def __init__(self, connection: Any, reader: str) -> None:
        self._conn = connection
        self.reader = reader

    @classmethod
    def connect(cls, reader: str | None = None) -> PcscCard:
        available = readers()
        if not available:
            raise NoReader()
        chosen = [r for r in available if reader is None or str(r) == reader]
        if not chosen:
            raise NoReader(f"{reader} not among {[str(r) for r in available]}")
        last: Exception | None = None
        for r in chosen:
            conn = r.createConnection()
            try:
                conn.connect()
            except (NoCardException, CardConnectionException) as exc:
                _release(conn)  # its PC/SC context too, not left for the garbage collector
                last = exc
                continue
            card = cls(conn, str(r))
            try:
                sw = card._status(A.select_aid(A.JPKI_AID))[1]
            except BaseException:
                _release(conn)
                raise
            if sw == A.SW_OK:
                return card
            _release(conn)
            last = NotJPKICard(f"SELECT AP answered {sw:04X}")
        if isinstance(last, NotJPKICard):
            raise last
        raise CardNotPresent(str(last) if last else "")

    # --- transport ------------------------------------------------------------------------------
    def _status(self, command: bytes) -> tuple[bytes, int]:
        try:
            data, sw1, sw2 = self._conn.transmit(list(command))
        except (CardConnectionException, NoCardException) as exc:
            raise CardRemoved(str(exc)) from exc
        return bytes(data), (sw1 << 8) | sw2

    def _ok(self, command: bytes, what: str) -> bytes:
        data, sw = self._status(command)
        if sw == A.SW_OK:
            return data
        if sw == A.SW_SECURITY_NOT_SATISFIED:
            raise SecurityStatusNotSatisfied(what)
        raise CardProtocolError(f"{what}: status {sw:04X}")

    def _select_ef(self, fid: int) -> None:
        self._ok(A.select_ef(fid), f"SELECT EF {fid:04X}")

    # --- operations -------------------------------------------------------------------------------
    def token_info(self) -> bytes:
        self._select_ef(A.EF_TOKEN_INFO)
        return self._ok(A.read_binary(0, 32), "READ token info")

    def signature_pin_tries_left(self) -> int:
        self._select_ef(A.EF_SIGN_PIN)
        _, sw = self._status(A.verify(None))
        if sw in LOCKED:
            raise PinLocked()
        if sw == A.SW_OK:
            return 5
        if sw & 0xFFF0 == 0x63C0:
            return sw & 0x0F
        raise CardProtocolError(f"PIN status: {sw:04X}")

    def verify_signature_pin(self, pin: str) -> None:
        value = normalize_signature_pin(pin)
        self.signature_pin_tries_left()  # raises PinLocked without sending the PIN
        _, sw = self._status(A.verify(value))
        if sw == A.SW_OK:
            return
        if sw & 0xFFF0 == 0x63C0:  # 63C0 here: that was the last try, the PIN is now locked
            raise WrongPin(sw & 0x0F)
        if sw in LOCKED:
            raise PinLocked()
        raise CardProtocolError(f"VERIFY: {sw:04X}")

    def _read_der(self, fid: int, what: str) -> bytes:
        self._select_ef(fid)
        head = self._ok(A.read_binary(0, 8), what)
        try:
            total = A.der_length(head)
        except ValueError as exc:
            raise CardProtocolError(f"{what}: {exc}") from exc
        out = bytearray()
        while len(out) < total:
            n = min(256, total - len(out))
            out += self._ok(A.read_binary(len(out), n % 256), what)[:n]
        return bytes(out[:total])

    def read_signature_certificate(self) -> bytes:
        return self._read_der(A.EF_SIGN_CERT, "signature certificate")

    def read_signature_ca_certificate(self) -> bytes:
        return self._read_der(A.EF_SIGN_CA_CERT, "signature CA certificate")

    def sign_sha256(self, digest: bytes) -> bytes:
        if len(digest) != 32:
            raise ValueError("a SHA-256 digest is 32 bytes")
        self._select_ef(A.EF_SIGN_KEY)
        return self._ok(A.compute_signature(A.SHA256_DIGEST_INFO + digest), "signature")

    def close(self) -> None:
        # Release the PC/SC context too, so nothing is left for the garbage collector to
        # release after pcscd has gone.
        _release(self._conn)


class CardWatcher:
    """Calls ``on_event("inserted"|"removed", reader)`` as cards come and go (for the kiosk)."""

    def __init__(self, on_event: Callable[[str, str], None]) -> None:
        class _Observer(CardObserver):  # type: ignore[misc]
            def update(self, observable: Any, handlers: Any) -> None:
                added, removed = handlers
                for card in added:
                    on_event("inserted", str(card.reader))
                for card in removed:
                    on_event("removed", str(card.reader))

        self._observer = _Observer()
        self._monitor = CardMonitor()
        self._monitor.addObserver(self._observer)
        self._lock = threading.Lock()

    def stop(self) -> None:
        with self._lock:
            self._monitor.deleteObserver(self._observer)


def reader_has_card(reader: str) -> bool | None:
    """What pcscd currently says about ``reader``: True (card present), False (empty), or
    None (no such reader / pcscd not running)."""
    from smartcard import scard

    rc, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if rc != scard.SCARD_S_SUCCESS:
        return None
    try:
        rc, states = scard.SCardGetStatusChange(context, 0, [(reader, scard.SCARD_STATE_UNAWARE)])
        if rc != scard.SCARD_S_SUCCESS or not states:
            return None
        event_state = states[0][1]
        if event_state & scard.SCARD_STATE_UNKNOWN:
            return None
        return bool(event_state & scard.SCARD_STATE_PRESENT)
    finally:
        scard.SCardReleaseContext(context)


def wait_for_reader_state(reader: str, present: bool, timeout: float = 5.0) -> None:
    """Block until pcscd reports the card present (or gone); pcscd polls every ~0.4 s."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if reader_has_card(reader) is present:
            return
        time.sleep(0.05)
    raise CardNotPresent(
        f"{reader}: card still {'absent' if present else 'present'} after {timeout:.0f} s"
    )
