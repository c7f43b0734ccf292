"""A short atheris run of the ballot wire-format fuzz targets (longer: fuzz/fuzz_ballot.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("target", "runs"), [("decode", 2000), ("mutate", 300)])
def test_fuzz_target(target: str, runs: int) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "fuzz" / "fuzz_ballot.py"),
            target,
            f"-runs={runs}",
            "-max_len=4096",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Done {runs} runs" in result.stderr
