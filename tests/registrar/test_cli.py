"""`ippyo registrar keygen|public-key|import-roll|serve` as an operator uses them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .conftest import ELECTION_ID, Pki

IPPYO = [sys.executable, "-m", "ippyo", "registrar"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*IPPYO, *args], capture_output=True, text=True, timeout=60, env=env)


def test_operator_commands(tmp_path: Path, pki: Pki) -> None:
    key = tmp_path / "registrar.pem"
    done = run("keygen", "--keyfile", str(key), "--public-out", str(tmp_path / "pub.pem"))
    assert done.returncode == 0, done.stderr
    assert "bits = 2048" in done.stdout and oct(key.stat().st_mode & 0o777) == "0o600"
    again = run("keygen", "--keyfile", str(key))
    assert again.returncode != 0 and "refusing to overwrite" in again.stderr
    assert run("public-key", "--keyfile", str(key)).stdout.startswith("n = ")
    config = tmp_path / "registrar.toml"
    config.write_text(
        f'DATABASE_URL = "sqlite:///{tmp_path / "r.db"}"\nELECTION_ID = "{ELECTION_ID.hex()}"\n'
        f'ELECTION_DAY = "2026-12-06"\nMUNICIPALITY = "茨城県つくば市"\n'
        f'CA_CERTS = ["{pki.ca_path}"]\n'
        f'CRLS = ["{pki.crl_path}"]\nSIGNER = {{ type = "keyfile", path = "{key}" }}\n'
        '[KIOSKS]\n"kiosk-01" = "' + "0" * 64 + '"\n'
    )
    roll = tmp_path / "roll.csv"
    roll.write_text(
        "name,date_of_birth,gender,address\n山田 花子,1985-04-01,female,茨城県つくば市1\n"
    )
    imported = run("import-roll", "--config", str(config), str(roll))
    assert imported.returncode == 0 and "1 voters imported" in imported.stdout, imported.stderr
    roll.write_text("name,date_of_birth,gender,address\nx,1985-13-01,female,y\n")
    bad = run("import-roll", "--config", str(config), str(roll))
    assert bad.returncode != 0 and "line 2" in bad.stderr

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [*IPPYO, "serve", "--config", str(config), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ),
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/info", timeout=2) as r:
                    info = json.loads(r.read())
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "serve did not start"
                time.sleep(0.2)
        assert info["election_id"] == ELECTION_ID.hex()
    finally:
        server.terminate()
        server.wait(timeout=10)
