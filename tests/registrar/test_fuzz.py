"""A short atheris run of the registrar's request-body fuzz target (fuzz/fuzz_registrar.py)."""

from __future__ import annotations

from tests.fuzzing import run_target


def test_fuzz_request_bodies() -> None:
    run_target("fuzz_registrar.py", runs=500)
