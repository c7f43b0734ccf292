"""A real PC/SC stack for the card tests: pcscd (reused if running), vpcd, the virtual card."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from card_reader.pcsc import reader_names, wait_for_reader_state
from card_reader.testpki import CertificateAuthority, Resident, VoterCard, make_card
from card_reader.virtual_card import VPCD_PORT_BASE, JPKIApplet, VpcdCard

READER = "Virtual PCD 00 00"


def _vpcd_listening() -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", VPCD_PORT_BASE)) == 0


@pytest.fixture(scope="session")
def pcscd() -> Iterator[None]:
    """pcscd with the vpcd driver; reuse a running one, else start one and stop only it."""
    started: subprocess.Popen[bytes] | None = None
    if not _vpcd_listening():
        binary = shutil.which("pcscd") or "/usr/sbin/pcscd"
        assert Path(binary).exists(), "pcscd is not installed: scripts/setup.sh installs it"
        started = subprocess.Popen(
            [binary, "-f"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 15
        while not (_vpcd_listening() and READER in reader_names()):
            assert started.poll() is None, "pcscd exited at start"
            assert time.monotonic() < deadline, "the virtual reader did not appear"
            time.sleep(0.1)
    yield
    if started is not None:
        os.killpg(started.pid, signal.SIGTERM)
        started.wait(timeout=10)


@pytest.fixture(scope="session")
def sign_ca() -> CertificateAuthority:
    return CertificateAuthority.create()


@pytest.fixture(scope="session")
def card_template(sign_ca: CertificateAuthority) -> VoterCard:
    return make_card(sign_ca, Resident(), sign_pin="ABC123")


@pytest.fixture
def card(pcscd: None, card_template: VoterCard) -> Iterator[VpcdCard]:
    """A fresh card (full PIN tries) in the virtual reader for each test."""
    served = VpcdCard(JPKIApplet(card_template.to_image()))
    served.insert()
    wait_for_card(present=True)
    yield served
    served.remove()
    wait_for_card(present=False)
    # vpcd accepts the next card only after pcscd's next presence poll (~0.4 s) has seen
    # this one go; a person cannot re-insert faster than this either.
    time.sleep(1.0)


def wait_for_card(present: bool, timeout: float = 5.0) -> None:
    wait_for_reader_state(READER, present, timeout)
