"""A short atheris run of each record and ballot fuzz target (longer: see fuzz/*.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "script, target, runs",
    [
        ("fuzz_record.py", "json", 3000),
        ("fuzz_record.py", "mutate", 300),
        ("fuzz_cast.py", "decode", 3000),
        ("fuzz_cast.py", "mutate", 1000),
    ],
)
def test_fuzz_target(script: str, target: str, runs: int) -> None:
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    result = subprocess.run(
        [sys.executable, str(ROOT / "fuzz" / script), target, f"-runs={runs}", "-max_len=4096"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Done {runs} runs" in result.stderr
