"""The configuration: TOML, then environment, then overrides; each problem named."""

from __future__ import annotations

from pathlib import Path

import pytest

from tally_server.config import ConfigError, load_config


def test_toml_then_environment_then_overrides(tmp_path: Path) -> None:
    toml = tmp_path / "tally.toml"
    toml.write_text(
        'database_url = "sqlite:////tmp/a.db"\nrpc_urls = ["http://127.0.0.1:1"]\n'
        "confirmations = 3\n[kiosk_secrets]\n" + f'"kiosk-01" = "{"b" * 64}"\n'
    )
    env = {"IPPYO_TALLY_CONFIRMATIONS": "5", "IPPYO_TALLY_RPC_URLS": "http://127.0.0.1:2"}
    cfg = load_config(toml, environ=env, overrides={"page_size": 7})
    assert cfg.database_url == "sqlite:////tmp/a.db"
    assert cfg.rpc_urls == ("http://127.0.0.1:2",)
    assert cfg.confirmations == 5
    assert cfg.page_size == 7
    assert cfg.kiosk_secrets == {"kiosk-01": "b" * 64}
    with pytest.raises(TypeError):
        cfg.kiosk_secrets["x"] = "y"  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "env", "code", "setting"),
    [
        ("bogus = 1\n", {}, "unknown_setting", "bogus"),
        ("confirmations = -1\n", {}, "bad_setting", "confirmations"),
        ('confirmations = "2"\n', {}, "bad_setting", "confirmations"),
        ("page_size = 1.5\n", {}, "bad_setting", "page_size"),
        ('rpc_urls = ["ftp://x"]\n', {}, "bad_setting", "rpc_urls"),
        ('secret_key = "short"\n', {}, "bad_setting", "secret_key"),
        ('[kiosk_secrets]\n"k" = "nothex"\n', {}, "bad_setting", "kiosk_secrets"),
        ("not toml = = \n", {}, "unreadable_config", None),
        ("", {"IPPYO_TALLY_NOPE": "1"}, "unknown_setting", "IPPYO_TALLY_NOPE"),
        ("", {"IPPYO_TALLY_CONFIRMATIONS": "two"}, "bad_setting", "confirmations"),
        ("", {"IPPYO_TALLY_KIOSK_SECRETS": "{bad json"}, "bad_setting", "kiosk_secrets"),
    ],
)
def test_each_problem_is_named(
    tmp_path: Path, text: str, env: dict[str, str], code: str, setting: str | None
) -> None:
    toml = tmp_path / "tally.toml"
    toml.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(toml, environ=env)
    assert info.value.code == code
    if setting is not None:
        assert info.value.setting == setting


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "absent.toml", environ={})
    assert info.value.code == "unreadable_config"
