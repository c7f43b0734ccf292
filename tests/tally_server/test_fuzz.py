"""Short atheris runs of the tally server's fuzz targets (fuzz/fuzz_tally.py)."""

from __future__ import annotations

from tests.fuzzing import run_target


def test_fuzz_setup_parser() -> None:
    run_target("fuzz_tally.py", "setup", runs=2000)


def test_fuzz_api() -> None:
    run_target("fuzz_tally.py", "api", runs=300, max_len=512)
