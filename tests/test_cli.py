"""The `ippyo` console script works as installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(sys.executable).parent / "ippyo"


def test_help_lists_the_commands() -> None:
    result = subprocess.run([str(SCRIPT), "--help"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for command in ("demo", "verify"):
        assert command in result.stdout
    assert "一票" in result.stdout


def test_demo_runs_and_writes_a_verifiable_record(tmp_path: Path) -> None:
    out = tmp_path / "record.json"
    result = subprocess.run(
        [str(SCRIPT), "demo", "--voters", "12", "--out", str(out)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "the record verifies" in result.stdout
    again = subprocess.run([str(SCRIPT), "verify", str(out)], capture_output=True, text=True)
    assert again.returncode == 0 and "検証成功" in again.stdout


def test_demo_refuses_too_few_voters() -> None:
    result = subprocess.run([str(SCRIPT), "demo", "--voters", "3"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "at least 12 voters" in result.stderr
