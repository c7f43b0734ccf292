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
