"""One way to give a fuzz target (fuzz/*.py, atheris) a short run from a test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_target(script: str, *args: str, runs: int, max_len: int = 4096) -> None:
    """Run ``fuzz/<script> [args] -runs=N``; fail with the fuzzer's report unless all N ran clean.

    The repository's root is on PYTHONPATH, so a target may import the project and tests' helpers.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "fuzz" / script),
            *args,
            f"-runs={runs}",
            f"-max_len={max_len}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Done {runs} runs" in result.stderr, result.stderr[-3000:]
