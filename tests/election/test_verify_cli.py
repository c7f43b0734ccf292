"""`ippyo verify` as a subprocess: exit 0 valid, 1 invalid (named check), 2 unreadable; never
a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from election.manifest import Manifest
from election.primitives import blind_rsa
from tests.election.record_helpers import honest_builder


@pytest.fixture(scope="module")
def record_json(manifest: Manifest, registrar_key: blind_rsa.RSAPrivateKey) -> bytes:
    return honest_builder(manifest, registrar_key).record().to_json()


def _run(path: Path | str, *extra: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "ippyo", "verify", *extra, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    return result


def test_valid_record_exits_0(record_json: bytes, tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(record_json)
    result = _run(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK   sequence numbers" in result.stdout
    assert "検証成功" in result.stdout


def test_invalid_record_exits_1_with_the_check(record_json: bytes, tmp_path: Path) -> None:
    raw = json.loads(record_json)
    raw["tally"]["result"]["mayor"]["m0"] += 1
    path = tmp_path / "r.json"
    path.write_bytes(json.dumps(raw).encode())
    result = _run(path)
    assert result.returncode == 1
    assert "FAIL result" in result.stdout
    assert "published result" in result.stdout


def _edit(raw: dict[str, Any], what: str) -> None:
    if what == "missing field":
        del raw["ceremony"]["announcements"][0]["proofs"]
    elif what == "quorum 0":
        raw["parameters"]["quorum"] = 0
    elif what == "no tally":
        raw["tally"] = None
    elif what == "float count":
        raw["tally"]["result"]["mayor"]["m0"] = 7.9


UNREADABLE: list[tuple[str, bytes | None, str]] = [
    ("garbage", b"\x00\xff\xfe garbage", "not UTF-8"),
    ("empty", b"", "not JSON"),
    ("not an object", b"[1, 2, 3]", "record: must be an object"),
    ("deep", b"[" * 200_000 + b"]" * 200_000, "not JSON"),
    ("deep object", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "record"),
    ("huge integer", b'{"version": ' + b"9" * 10_000 + b"}", "not JSON"),
    ("NaN", b'{"version": NaN}', "NaN"),
    ("duplicate key", b'{"version": 2, "version": 2}', "appears twice"),
    ("missing field", None, "record.ceremony.announcements[0].proofs: missing"),
    ("quorum 0", None, "record.parameters.quorum"),
    ("no tally", None, "record.tally: missing"),
    ("float count", None, "record.tally.result.mayor.m0: must be a JSON integer"),
]


@pytest.mark.parametrize("name, data, message", UNREADABLE, ids=[u[0] for u in UNREADABLE])
def test_unreadable_exits_2(
    record_json: bytes, tmp_path: Path, name: str, data: bytes | None, message: str
) -> None:
    if data is None:
        raw = json.loads(record_json)
        _edit(raw, name)
        data = json.dumps(raw).encode()
    path = tmp_path / "r.json"
    path.write_bytes(data)
    result = _run(path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr, result.stderr


def test_truncated_records_exit_2(record_json: bytes, tmp_path: Path) -> None:
    for cut in (1, len(record_json) // 3, len(record_json) - 3):
        path = tmp_path / f"cut{cut}.json"
        path.write_bytes(record_json[:cut])
        assert _run(path).returncode == 2


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = _run(tmp_path / "nope.json")
    assert result.returncode == 2
    assert "cannot read the record" in result.stderr


def test_help_documents_exit_status() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ippyo", "verify", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "0 the record verifies" in text
    assert "1 the record is readable but invalid" in text
    assert "2 the record cannot be read" in text
