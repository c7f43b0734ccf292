"""kiosk.toml: a good file loads into typed values; every bad field is refused by name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from election.primitives.group import G
from ippyo.cli import main
from kiosk.config import (
    BadValue,
    ConfigError,
    FileMissing,
    MissingField,
    WrongType,
    load_config,
    parse_config,
)
from kiosk.testing import TEST_MANIFEST

CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def good(directory: Path) -> dict[str, Any]:
    (directory / "manifest.json").write_text(json.dumps(TEST_MANIFEST), "utf-8")
    (directory / "secret.txt").write_text("s3cret\n", "utf-8")
    (directory / "key.hex").write_text("11" * 32 + "\n", "utf-8")
    return {
        "kiosk_id": "tsukuba-01",
        "language": "en",
        "observer_base_url": "https://observer.example.jp/",
        "confirmations": 2,
        "inactivity_timeout": 90,
        "outbox": "outbox",
        "registrar": {"url": "http://127.0.0.1:8443", "secret_file": "secret.txt"},
        "chain": {
            "rpc": ["http://127.0.0.1:8545", "http://127.0.0.1:8546"],
            "contract": CONTRACT,
            "key_file": "key.hex",
        },
        "election": {
            "manifest": "manifest.json",
            "trustees": 3,
            "quorum": 2,
            "joint_public_key": (G * 7).hex(),
        },
        "card": {"backend": "pcsc", "reader": "Virtual PCD 00 00"},
        "receipt": {"printer": "pdf", "pdf_dir": "receipts"},
        "health": {"tally_url": "http://127.0.0.1:8080", "secret_file": "secret.txt"},
    }


def to_toml(data: dict[str, Any]) -> str:
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return str(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(v, ensure_ascii=False)

    lines = [f"{k} = {value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for section, table in data.items():
        if isinstance(table, dict):
            lines.append(f"[{section}]")
            lines += [f"{k} = {value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def test_a_good_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text(to_toml(good(tmp_path)), "utf-8")
    config = load_config(path)
    assert config.kiosk_id == "tsukuba-01" and config.language == "en"
    assert config.observer_base_url == "https://observer.example.jp"
    assert config.rpc_urls == ("http://127.0.0.1:8545", "http://127.0.0.1:8546")
    assert config.registrar_secret == "s3cret" and config.kiosk_key == "11" * 32
    assert config.outbox_dir == tmp_path / "outbox"
    assert config.manifest.election_id_label == TEST_MANIFEST["id"]
    assert (config.trustees, config.quorum, config.confirmations) == (3, 2, 2)
    assert config.joint_public_key == G * 7
    assert config.printer == "pdf" and config.pdf_dir == tmp_path / "receipts"
    assert config.health_url == "http://127.0.0.1:8080" and config.health_interval == 60
    assert "s3cret" not in repr(config) and "11" * 32 not in repr(config)


def change(data: dict[str, Any], dotted: str, new: Any) -> None:
    *parents, last = dotted.split(".")
    node = data
    for part in parents:
        node = node[part]
    if new is DELETE:
        del node[last]
    else:
        node[last] = new


DELETE = object()

BAD: list[tuple[str, Any, type[ConfigError], str]] = [
    ("kiosk_id", DELETE, MissingField, "kiosk_id"),
    ("kiosk_id", "two words", BadValue, "kiosk_id"),
    ("kiosk_id", 7, WrongType, "kiosk_id"),
    ("language", "fr", BadValue, "language"),
    ("observer_base_url", "ftp://x", BadValue, "observer_base_url"),
    ("observer_base_url", DELETE, MissingField, "observer_base_url"),
    ("confirmations", 0, BadValue, "confirmations"),
    ("confirmations", "1", WrongType, "confirmations"),
    ("inactivity_timeout", 5, BadValue, "inactivity_timeout"),
    ("colour", "blue", BadValue, "colour"),
    ("registrar.url", "127.0.0.1:8443", BadValue, "registrar.url"),
    ("registrar.secret_file", "nope.txt", FileMissing, "registrar.secret_file"),
    ("registrar.secret", "both", BadValue, "registrar.secret"),
    ("registrar.token", "x", BadValue, "registrar.token"),
    ("chain.rpc", DELETE, MissingField, "chain.rpc"),
    ("chain.rpc", [], WrongType, "chain.rpc"),
    ("chain.rpc", ["http://127.0.0.1:8545", "localhost"], BadValue, "chain.rpc[1]"),
    ("chain.contract", "0x1234", BadValue, "chain.contract"),
    ("chain.key", "11" * 32, BadValue, "chain.key"),
    ("chain.key_file", "manifest.json", BadValue, "chain.key_file"),
    ("election.manifest", "missing.json", FileMissing, "election.manifest"),
    ("election.manifest", "secret.txt", BadValue, "election.manifest"),
    ("election.trustees", DELETE, MissingField, "election.trustees"),
    ("election.quorum", 4, BadValue, "election.quorum"),
    ("election.joint_public_key", "zz", BadValue, "election.joint_public_key"),
    ("election.joint_public_key", "02" + "00" * 32, BadValue, "election.joint_public_key"),
    ("card.backend", "nfc", BadValue, "card.backend"),
    ("card.backend", "virtual", MissingField, "card.image"),
    ("receipt.printer", "fax", BadValue, "receipt.printer"),
    ("receipt", "none", WrongType, "receipt"),
    ("health.tally_url", "tally", BadValue, "health.tally_url"),
    ("health.secret_file", "absent.txt", FileMissing, "health.secret_file"),
    ("health.interval", 1, BadValue, "health.interval"),
    ("health.secret", "x", BadValue, "health.secret"),
]


@pytest.mark.parametrize(("field", "new", "error", "named"), BAD)
def test_every_bad_field_is_refused_by_name(
    tmp_path: Path, field: str, new: Any, error: type[ConfigError], named: str
) -> None:
    data = good(tmp_path)
    change(data, field, new)
    with pytest.raises(error) as caught:
        parse_config(data, tmp_path)
    assert caught.value.field == named


def test_not_toml_and_no_file(tmp_path: Path) -> None:
    with pytest.raises(FileMissing):
        load_config(tmp_path / "absent.toml")
    path = tmp_path / "kiosk.toml"
    path.write_text("kiosk_id = [unclosed\n", "utf-8")
    with pytest.raises(BadValue) as caught:
        load_config(path)
    assert caught.value.field == "config"


def test_the_cli_names_the_bad_field(tmp_path: Path) -> None:
    data = good(tmp_path)
    path = tmp_path / "kiosk.toml"
    path.write_text(to_toml(data), "utf-8")
    runner = CliRunner()
    ok = runner.invoke(main, ["kiosk", "check-config", str(path)])
    assert ok.exit_code == 0 and "tsukuba-01" in ok.output
    change(data, "chain.contract", "0xnothex")
    path.write_text(to_toml(data), "utf-8")
    for args in (["kiosk", "check-config", str(path)], ["kiosk", "run", "--config", str(path)]):
        result = runner.invoke(main, args)
        assert result.exit_code == 1
        assert "chain.contract" in result.output and "[bad_value]" in result.output
        assert "Traceback" not in result.output
