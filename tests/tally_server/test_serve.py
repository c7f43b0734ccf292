"""`ippyo tally serve` runs the app under cheroot on 127.0.0.1 and stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tally_server.testing import free_port


def test_serve_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    config = tmp_path / "tally.toml"
    config.write_text(f'database_url = "sqlite:///{tmp_path / "tally.db"}"\n')
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ippyo",
            "tally",
            "serve",
            "--config",
            str(config),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                response = requests.get(f"http://127.0.0.1:{port}/api/openapi.json", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        assert response.status_code == 200
        assert response.headers["Server"] == "ippyo-tally"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        refused = requests.get(f"http://127.0.0.1:{port}/api/v1/election", timeout=5)
        assert refused.status_code == 503
        assert refused.json()["error"] == "election_not_configured"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # never leave it running: kill it, then fail
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            raise
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == 0


def test_a_bad_config_is_named(tmp_path: Path) -> None:
    config = tmp_path / "tally.toml"
    config.write_text("confirmations = -3\n")
    result = subprocess.run(
        [sys.executable, "-m", "ippyo", "tally", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "bad_setting: confirmations" in result.stderr
    assert "Traceback" not in result.stderr
