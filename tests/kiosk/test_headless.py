"""The headless kiosk's configuration: every bad field is named, nothing is a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kiosk.core.headless import ConfigError, HeadlessConfig, main

GOOD: dict[str, Any] = {
    "kiosk_id": "k1",
    "registrar_url": "https://127.0.0.1:8443",
    "registrar_secret_file": "registrar.secret",
    "rpc": ["http://127.0.0.1:8545", "http://127.0.0.1:8546"],
    "contract": "0x" + "11" * 20,
    "sender_key_file": "sender.key",
    "manifest": "manifest.json",
    "trustees": 3,
    "quorum": 2,
    "joint_public_key": "02" + "00" * 32,
    "reader": "Virtual PCD 00 01",
    "outbox": "/var/lib/ippyo/outbox",
}


def test_a_good_configuration(tmp_path: Path) -> None:
    config = HeadlessConfig.from_dict(
        {**GOOD, "tally_url": "http://127.0.0.1:9000", "tally_secret_file": "tally.secret"},
        tmp_path,
    )
    assert config.rpc == tuple(GOOD["rpc"])
    assert config.sender_key_file == tmp_path / "sender.key"
    assert config.outbox == Path("/var/lib/ippyo/outbox")  # absolute stays absolute
    assert config.tally_secret_file == tmp_path / "tally.secret"
    assert config.confirmations == 1 and config.health_interval == 30.0
    assert config.registrar_client_cert is None and config.registrar_ca is None
    mtls = HeadlessConfig.from_dict(
        {**GOOD, "registrar_client_cert": "k.pem", "registrar_client_key": "k.key"}, tmp_path
    )
    assert mtls.registrar_client_cert == (tmp_path / "k.pem", tmp_path / "k.key")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rpc": []}, "at least one endpoint"),
        ({"rpc": "http://127.0.0.1:8545"}, "'rpc' must be a list"),
        ({"trustees": "3"}, "'trustees' must be a int"),
        ({"trustees": True}, "'trustees' must be a int"),
        ({"reader": 1}, "'reader' must be a string"),
        ({"colour": "blue"}, "unknown field(s): colour"),
        ({"tally_url": "http://127.0.0.1:9000"}, "go together"),
        ({"kiosk_id": None}, "'kiosk_id' must be a str"),
        ({"registrar_client_cert": "kiosk.pem"}, "go together"),
        ({"registrar_ca": 7}, "'registrar_ca' must be a string"),
        ({"confirmations": 0}, "'confirmations' must be a positive number"),
        ({"confirmations": 1.5}, "'confirmations' must be a whole number"),
        ({"cast_timeout": "soon"}, "'cast_timeout' must be a positive number"),
    ],
)
def test_bad_fields_are_named(change: dict[str, Any], message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        HeadlessConfig.from_dict({**GOOD, **change}, tmp_path)
    assert message in str(info.value)


def test_a_missing_field_is_named(tmp_path: Path) -> None:
    data = dict(GOOD)
    del data["contract"]
    with pytest.raises(ConfigError, match="missing field 'contract'"):
        HeadlessConfig.from_dict(data, tmp_path)


def test_main_reports_config_errors_as_one_json_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "kiosk.json"
    path.write_text("[1, 2]")
    assert main(["--config", str(path), "--pin", "ABC123"]) == 2
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line) == {
        "event": "done",
        "state": "config_error",
        "error": "the configuration must be a JSON object",
    }
    assert main(["--config", str(tmp_path / "absent.json"), "--pin", "ABC123"]) == 2
    assert "cannot read" in capsys.readouterr().out
    path.write_text(json.dumps(GOOD))
    assert main(["--config", str(path), "--pin", "X", "--choose", "mayor"]) == 2
    assert "CONTEST=OPTION" in capsys.readouterr().out
