"""The verifier's process pool gives exactly the in-process verdicts, in order, and the CLI
uses it (``--workers 2``, more ballots than one chunk) with the same report."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from election.manifest import Manifest
from election.primitives import blind_rsa
from election.record import ElectionRecord, verify_record
from election.validity import check_cast_ballots
from ippyo.parallel import CHUNK, pool_checker
from tests.election.conftest import small_manifest
from tests.election.record_helpers import Builder

from .kit import failed_checks, run_verify


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return small_manifest()


@pytest.fixture(scope="module")
def big(manifest: Manifest, registrar_key: blind_rsa.RSAPrivateKey) -> Builder:
    """2½ chunks of ballots; every 9th has a broken proof, every 13th a foreign signature."""
    b = Builder(manifest, registrar_key)
    for v in range(CHUNK * 2 + CHUNK // 2):
        raw = bytearray(b.encrypt({"mayor": [f"m{v % 3}"], "council": ["c1"]}).to_bytes())
        if v % 9 == 4:
            raw[36 + 66 + 5] ^= 1
        cast = b.cast_bytes(v, bytes(raw))
        if v % 13 == 6:
            b.cast[-1] = dataclasses.replace(cast, token_signature=bytes(len(cast.token_signature)))
    return b


def test_pool_verdicts_equal_in_process_ones(big: Builder) -> None:
    serial = check_cast_ballots(big.ctx, big.cast)
    assert sum(v is not None for v in serial) >= 10  # the test exercises refusals too
    progress: list[tuple[int, int]] = []
    pooled = pool_checker(2, lambda done, total: progress.append((done, total)))(big.ctx, big.cast)
    assert pooled == serial
    assert progress[-1] == (len(big.cast), len(big.cast))
    record = big.record()
    assert verify_record(record, checker=pool_checker(2)).summary() == (
        verify_record(record).summary()
    )


def test_cli_with_two_workers(big: Builder, tmp_path: Path) -> None:
    record = big.record()
    path = tmp_path / "big.json"
    path.write_bytes(record.to_json())
    result = run_verify("--workers", "2", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"OK   ballots ({len(big.cast)})" in result.stdout
    # the record now claims a bad-proof ballot counts: the pool still finds it
    lying = dataclasses.replace(
        record, excluded=tuple(e for e in record.excluded if e.code != "bad_proof")
    )
    ElectionRecord.from_json(lying.to_json())
    path.write_bytes(lying.to_json())
    result = run_verify("--workers", "2", "--progress", str(path))
    assert result.returncode == 1
    assert "ballots" in failed_checks(result.stdout)
    assert "ballots' signatures and proofs" in result.stderr
