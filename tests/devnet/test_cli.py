"""`ippyo devnet up|status|down` as an operator runs it: real geth nodes, stopped by pid."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

IPPYO = [sys.executable, "-m", "ippyo", "devnet"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*IPPYO, *args], capture_output=True, text=True, timeout=180)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_up_status_down(tmp_path: Path) -> None:
    directory = tmp_path / "net"
    up = run("up", "--nodes", "2", "--dir", str(directory))
    try:
        assert up.returncode == 0, up.stderr
        assert "2 nodes in sync" in up.stdout and "http://127.0.0.1:" in up.stdout
        state = json.loads((directory / "devnet.json").read_text())
        pids = [n["pid"] for n in state["nodes"]]
        assert all(_alive(p) for p in pids)
        status = run("status", "--dir", str(directory))
        assert status.returncode == 0 and status.stdout.count("block ") == 2, status.stdout
    finally:
        down = run("down", "--dir", str(directory), "--delete")
    assert down.returncode == 0, down.stderr
    assert not any(_alive(p) for p in pids)
    again = run("status", "--dir", str(directory))
    assert again.returncode != 0 and "no devnet" in again.stderr
    assert os.path.exists(directory) is False
