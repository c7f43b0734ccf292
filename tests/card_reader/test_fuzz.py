"""A short atheris run of each card-layer fuzz target (a longer one: see fuzz/fuzz_card.py)."""

from __future__ import annotations

import pytest

from tests.fuzzing import run_target


@pytest.mark.parametrize(
    "target, runs", [("certificate", 3000), ("response", 3000), ("command", 3000)]
)
def test_fuzz_target(target: str, runs: int) -> None:
    run_target("fuzz_card.py", target, runs=runs, max_len=2048)
