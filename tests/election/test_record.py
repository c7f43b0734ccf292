"""The election record: deterministic export, and tampering caught with the right reason."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from election.errors import EncodingError, InvalidRecord
from election.record import ElectionRecord, record_from_dict, verify_record
from ippyo.demo import run_demo


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> ElectionRecord:
    # The demo's card step is covered by tests/test_cli.py; here only the record matters.
    return run_demo(
        voters=12, seed=7, echo=False, use_card=False, workdir=tmp_path_factory.mktemp("demo")
    )


def test_export_is_deterministic_and_round_trips(record: ElectionRecord) -> None:
    data = record.to_json()
    assert record.to_json() == data
    again = ElectionRecord.from_json(data)
    assert again.to_json() == data
    report = verify_record(again)
    names = {c.name: c.count for c in report.checks}
    assert names["counted ballots"] == 11  # 12 voters, one ballot with a corrupted proof
    assert names["challenged ballots open consistently"] == 1  # voter 3
    assert report.ok


def _tampered(record: ElectionRecord, edit: Callable[[dict[str, Any]], None]) -> ElectionRecord:
    raw = json.loads(record.to_json())
    edit(raw)
    return record_from_dict(raw)


def _flip_hex(text: str, at: int = -3) -> str:
    digit = "0" if text[at] != "0" else "1"
    return text[:at] + digit + text[at + 1 :] if at != -1 else text[:-1] + digit


def _bump_result(raw: dict[str, Any]) -> None:
    raw["tally"]["result"]["mayor"]["sato"] += 1


TAMPERS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("result", _bump_result, "result: published result"),
    (
        "ballot bytes",
        lambda r: r["ballots"][0].__setitem__("ballot", _flip_hex(r["ballots"][0]["ballot"], 200)),
        "ballot #0 is invalid (bad_binding_signature",
    ),
    (
        "token signature",
        lambda r: r["ballots"][1].__setitem__(
            "token_signature", _flip_hex(r["ballots"][1]["token_signature"], 10)
        ),
        "ballot #1 is invalid (bad_token_signature",
    ),
    (
        "exclusion removed",
        lambda r: r.__setitem__("excluded", []),
        "but the record does not exclude it",
    ),
    (
        "valid ballot excluded",
        lambda r: r["excluded"].append(
            {
                "seq": 0,
                "ballot_hash": r["ballots"][0]["ballot_hash"],
                "code": "bad_proof",
                "message": "x",
            }
        ),
        "ballot #0 is excluded as 'bad_proof' but it is valid",
    ),
    (
        "challenged nonce",
        lambda r: r["challenged"][0].__setitem__("master_nonce", "00" * 32),
        "challenged ballot 0: ",
    ),
    (
        "encrypted tally",
        lambda r: r["tally"]["encrypted"][0].__setitem__(0, r["tally"]["encrypted"][0][1]),
        "not the sum of the counted ballots",
    ),
    (
        "decryption share proof",
        lambda r: r["tally"]["decryption_shares"][0]["proofs"][0].__setitem__(
            0, _flip_hex(r["tally"]["decryption_shares"][0]["proofs"][0][0], 40)
        ),
        "trustee 1: Chaum–Pedersen proof fails",
    ),
    (
        "ceremony commitment",
        lambda r: r["ceremony"]["announcements"][2]["proofs"].__setitem__(
            0, _flip_hex(r["ceremony"]["announcements"][2]["proofs"][0], 70)
        ),
        "key ceremony: trustee 3: Schnorr",
    ),
    (
        "revote flag",
        lambda r: r["parameters"].__setitem__("revote_allowed", True),
        "bad_proof",
    ),  # a different base hash: every ballot's proofs now fail
]


@pytest.mark.parametrize("name, edit, reason", TAMPERS, ids=[t[0] for t in TAMPERS])
def test_tampered_record_fails_with_reason(
    record: ElectionRecord, name: str, edit: Callable[[dict[str, Any]], None], reason: str
) -> None:
    tampered = _tampered(record, edit)
    with pytest.raises(InvalidRecord) as info:
        verify_record(tampered)
    assert reason in str(info.value), str(info.value)[:500]
    assert info.value.report is not None


def test_malformed_record_is_refused(record: ElectionRecord) -> None:
    with pytest.raises(EncodingError, match="not JSON"):
        ElectionRecord.from_json(b"{")
    raw = json.loads(record.to_json())
    raw["format"] = "something-else"
    with pytest.raises(EncodingError, match="format"):
        record_from_dict(raw)


def test_cli_verify(record: ElectionRecord, tmp_path: Path) -> None:
    good = tmp_path / "record.json"
    good.write_bytes(record.to_json())
    ok = subprocess.run(
        [sys.executable, "-m", "ippyo", "verify", str(good)], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    assert "検証成功" in ok.stdout
    bad = tmp_path / "bad.json"
    bad.write_bytes(_tampered(record, _bump_result).to_json())
    failed = subprocess.run(
        [sys.executable, "-m", "ippyo", "verify", str(bad)], capture_output=True, text=True
    )
    assert failed.returncode == 1
    assert "FAIL result" in failed.stdout
