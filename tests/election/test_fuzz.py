"""A short atheris run of each record and ballot fuzz target (longer: see fuzz/*.py)."""

from __future__ import annotations

import pytest

from tests.fuzzing import run_target


@pytest.mark.parametrize(
    "script, target, runs",
    [
        ("fuzz_record.py", "json", 3000),
        ("fuzz_record.py", "publication", 3000),
        ("fuzz_record.py", "mutate", 300),
        ("fuzz_ballot.py", "decode", 2000),
        ("fuzz_ballot.py", "mutate", 300),
        ("fuzz_cast.py", "decode", 3000),
        ("fuzz_cast.py", "mutate", 1000),
    ],
)
def test_fuzz_target(script: str, target: str, runs: int) -> None:
    run_target(script, target, runs=runs)
