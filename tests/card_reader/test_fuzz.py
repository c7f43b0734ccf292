"""A short atheris run of each card-layer fuzz target (a longer one: see fuzz/fuzz_card.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "target, runs", [("certificate", 3000), ("response", 3000), ("command", 3000)]
)
def test_fuzz_target(target: str, runs: int) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "fuzz" / "fuzz_card.py"),
            target,
            f"-runs={runs}",
            "-max_len=2048",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Done {runs} runs" in result.stderr
