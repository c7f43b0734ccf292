"""A short atheris run of the registrar's request-body fuzz target (fuzz/fuzz_registrar.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_fuzz_request_bodies() -> None:
    runs = 500
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "fuzz" / "fuzz_registrar.py"),
            f"-runs={runs}",
            "-max_len=4096",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Done {runs} runs" in result.stderr
