"""`ippyo card`: mint a CA, a voter card image and a CRL; insert the card, read it, remove it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from cryptography import x509

from card_reader.pcsc import wait_for_reader_state

from .conftest import READER

IPPYO = [sys.executable, "-m", "ippyo", "card"]


def run(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*IPPYO, *args], capture_output=True, text=True, timeout=60, **kw)  # type: ignore[call-overload]
    assert result.returncode == 0, result.stderr + result.stdout
    return result


def test_mint_insert_read_remove(tmp_path: Path, pcscd: None) -> None:
    env = {**os.environ, "IPPYO_RUN_DIR": str(tmp_path)}
    run("ca", "--dir", str(tmp_path / "ca"), env=env)
    out = run(
        "voter",
        "--ca",
        str(tmp_path / "ca"),
        "--name",
        "筑波 太郎",
        "--birth",
        "1970-02-03",
        "--gender",
        "male",
        "--address",
        "茨城県つくば市研究学園1-1-1",
        "--pin",
        "tsukuba1",
        "--out",
        str(tmp_path / "card.json"),
        env=env,
    )
    assert "TEST CARD ONLY" in out.stdout
    assert oct((tmp_path / "card.json").stat().st_mode & 0o777) == "0o600"
    serial = int(out.stdout.strip().rsplit(" ", 1)[1])
    run(
        "crl",
        "--ca",
        str(tmp_path / "ca"),
        "--revoke",
        str(serial),
        "--out",
        str(tmp_path / "crl.der"),
        env=env,
    )
    crl = x509.load_der_x509_crl((tmp_path / "crl.der").read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(serial) is not None

    run("insert", str(tmp_path / "card.json"), env=env)
    try:
        wait_for_reader_state(READER, True)
        shown = run("read", "--pin", "TSUKUBA1", env=env)
        assert "筑波 太郎" in shown.stdout and "1970-02-03 (昭和)" in shown.stdout
    finally:
        run("remove", env=env)
    wait_for_reader_state(READER, False)
    time.sleep(1.0)  # let vpcd settle before the next test inserts a card
