"""Start the PC/SC stack for the virtual card: pcscd with vsmartcard's vpcd driver.

Used by the tests, the benchmark and demos. One pcscd serves the machine: a running one is
reused, and only a pcscd started here is stopped here (by its pid).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from card_reader.errors import NoReader
from card_reader.pcsc import reader_names
from card_reader.virtual_card import VPCD_PORT_BASE

VIRTUAL_READER = "Virtual PCD 00 00"


def vpcd_listening(reader: int = 0) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", VPCD_PORT_BASE + reader)) == 0


def ensure_pcscd(timeout: float = 15.0) -> subprocess.Popen[bytes] | None:
    """Make sure pcscd with the virtual reader runs; returns the process if started here."""
    if vpcd_listening() and VIRTUAL_READER in reader_names():
        return None
    binary = shutil.which("pcscd") or "/usr/sbin/pcscd"
    if not Path(binary).exists():
        raise NoReader("pcscd is not installed (Debian packages pcscd and vsmartcard-vpcd)")
    # -f: foreground, no systemd or udev needed.
    proc = subprocess.Popen(
        [binary, "-f"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + timeout
    while not (vpcd_listening() and VIRTUAL_READER in reader_names()):
        if time.monotonic() > deadline:
            stop_pcscd(proc)
            if proc.returncode not in (None, 0, -signal.SIGTERM):
                raise NoReader(f"pcscd exited at start (code {proc.returncode})")
            raise NoReader("the virtual reader did not appear (is vsmartcard-vpcd installed?)")
        time.sleep(0.1)
    if proc.poll() is not None:
        # Another pcscd won the race (one per machine): it serves the reader; reuse it.
        return None
    return proc


def stop_pcscd(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
