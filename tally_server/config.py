"""The tally server's configuration: one frozen, typed value checked once at start.

Sources, later ones winning: the defaults below, a TOML file (``IPPYO_TALLY_CONFIG`` or an
explicit path; keys in lower case), ``IPPYO_TALLY_<FIELD>`` environment variables (upper case;
lists and tables as JSON), and the mapping given by the caller (tests). Every problem is a
:class:`ConfigError` whose ``code`` names it (``unknown_setting``, ``bad_setting``,
``missing_setting``, ``unreadable_config``) and whose message names the setting.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PREFIX = "IPPYO_TALLY_"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_KIOSK_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class ConfigError(Exception):
    """A configuration the server cannot run with; ``code`` is stable, ``setting`` named."""

    def __init__(self, code: str, setting: str, message: str) -> None:
        super().__init__(f"{code}: {setting}: {message}")
        self.code = code
        self.setting = setting


@dataclass(frozen=True)
class TallyConfig:
    """Every setting of the tally server (docs/tally.md, "Configuration reference")."""

    database_url: str = "sqlite:///var/tally/tally.db"
    """SQLAlchemy URL: SQLite by default; ``postgresql+psycopg://...`` in production."""
    election_file: Path | None = None
    """The election setup (``ippyo/election-setup`` JSON: manifest, parameters, ceremony, chain
    id, contract and its creation block). Needed by the indexer and the result pages."""
    rpc_urls: tuple[str, ...] = ()
    """Every chain node the server reads and compares (``http://127.0.0.1:8545`` ...)."""
    confirmations: int = 2
    """k: blocks on top of a block before the indexer takes it in (0 for instant finality)."""
    index_batch_blocks: int = 200
    """At most this many blocks per indexer transaction."""
    index_workers: int = 1
    """Processes that check ballots' proofs in parallel (1: in the indexer's own process)."""
    index_poll_seconds: float = 2.0
    """How long the indexer sleeps when it has caught up."""
    rpc_timeout_seconds: float = 5.0
    kiosk_secrets: Mapping[str, str] = field(default_factory=dict)
    """Kiosk id → SHA-256 hex of its secret (health reports, /work/iface.md)."""
    trustee_dir: Path = Path("var/tally/trustees")
    """Where the trustee exchange stores the files it accepted."""
    secret_key: str = ""
    """Signs the officials' session cookies and CSRF tokens; required for the officials' area
    (at least 32 characters). Empty: the officials' area refuses every request."""
    admin_keystore: Path | None = None
    """The election admin's encrypted keystore (eth-account JSON): the dashboard signs deploy,
    open and close with it; its password is typed in the form and never stored."""
    observer_base_url: str = ""
    """Public URL of the observer pages (links in the API; the kiosk's QR codes point here)."""
    page_size: int = 50
    """Rows per page of the ballot lists (the API accepts up to 500)."""
    max_content_length: int = 64 * 1024
    tls_cert: Path | None = None
    tls_key: Path | None = None
    server_threads: int = 16
    read_timeout_seconds: int = 10

    def __post_init__(self) -> None:
        if not self.database_url or "://" not in self.database_url:
            raise ConfigError("bad_setting", "database_url", "must be an SQLAlchemy URL")
        for url in self.rpc_urls:
            if not url.startswith(("http://", "https://")):
                raise ConfigError("bad_setting", "rpc_urls", f"{url!r} is not an http(s) URL")
        if len(set(self.rpc_urls)) != len(self.rpc_urls):
            raise ConfigError("bad_setting", "rpc_urls", "a node is listed twice")
        _at_least("confirmations", self.confirmations, 0)
        _at_least("index_batch_blocks", self.index_batch_blocks, 1)
        _at_least("page_size", self.page_size, 1)
        _at_least("index_workers", self.index_workers, 1)
        _at_least("max_content_length", self.max_content_length, 1024)
        _at_least("server_threads", self.server_threads, 1)
        _at_least("read_timeout_seconds", self.read_timeout_seconds, 1)
        if self.index_poll_seconds <= 0 or self.rpc_timeout_seconds <= 0:
            raise ConfigError("bad_setting", "index_poll_seconds", "must be positive")
        for kiosk, digest in self.kiosk_secrets.items():
            if not _KIOSK_ID.fullmatch(kiosk):
                raise ConfigError(
                    "bad_setting", "kiosk_secrets", f"{kiosk!r} is not a kiosk id (A-Z a-z 0-9 ._-)"
                )
            if not _SHA256_HEX.fullmatch(digest):
                raise ConfigError(
                    "bad_setting",
                    "kiosk_secrets",
                    f"{kiosk}: must be the SHA-256 of the secret, 64 lowercase hex digits",
                )
        if self.secret_key and len(self.secret_key) < 32:
            raise ConfigError("bad_setting", "secret_key", "must be at least 32 characters")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("bad_setting", "tls_cert", "TLS needs both tls_cert and tls_key")
        # A read-only view: the dataclass is frozen, its mapping must be too.
        object.__setattr__(self, "kiosk_secrets", types.MappingProxyType(dict(self.kiosk_secrets)))

    def require_election_file(self) -> Path:
        if self.election_file is None:
            raise ConfigError("missing_setting", "election_file", "the election setup is needed")
        return self.election_file


def _at_least(name: str, value: int, low: int) -> None:
    if value < low:
        raise ConfigError("bad_setting", name, f"must be at least {low}")


FIELDS = {f.name: f for f in dataclasses.fields(TallyConfig)}


def _coerce(name: str, raw: Any, from_env: bool) -> Any:
    """Turn a TOML or environment value into the field's type, or a named ConfigError."""
    hint = typing.get_type_hints(TallyConfig)[name]
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    optional = origin in (types.UnionType, typing.Union) and type(None) in args
    if optional:
        if raw is None or (from_env and raw == ""):
            return None
        hint = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    try:
        if hint is str:
            if not isinstance(raw, str):
                raise TypeError("must be a string")
            return raw
        if hint is bool:
            if from_env and raw in ("0", "1", "true", "false"):
                return raw in ("1", "true")
            if not isinstance(raw, bool):
                raise TypeError("must be true or false")
            return raw
        if hint is int:
            value = int(raw) if from_env else raw
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError("must be an integer")
            return value
        if hint is float:
            value = float(raw) if from_env else raw
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError("must be a number")
            return float(value)
        if hint is Path:
            if not isinstance(raw, str | Path) or not str(raw):
                raise TypeError("must be a path")
            return Path(raw)
        if origin is tuple:
            value = json.loads(raw) if from_env and raw.startswith("[") else raw
            if from_env and isinstance(value, str):
                value = [v for v in value.split(",") if v]
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise TypeError("must be a list of strings")
            return tuple(value)
        if origin is Mapping:
            value = json.loads(raw) if from_env else raw
            if not isinstance(value, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                raise TypeError("must be a table of strings")
            return dict(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError("bad_setting", name, str(exc)) from exc
    raise ConfigError("bad_setting", name, f"unsupported type {hint}")  # pragma: no cover


def load_config(
    path: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> TallyConfig:
    """Defaults ← TOML file (``path`` or ``IPPYO_TALLY_CONFIG``) ← environment ← overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    path = path or env.get(ENV_PREFIX + "CONFIG") or None
    if path is not None:
        try:
            with open(path, "rb") as f:
                table = tomllib.load(f)
        except OSError as exc:
            raise ConfigError("unreadable_config", str(path), exc.strerror or str(exc)) from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("unreadable_config", str(path), f"not TOML: {exc}") from exc
        for key, raw in table.items():
            if key not in FIELDS:
                raise ConfigError("unknown_setting", key, "not a tally server setting")
            values[key] = _coerce(key, raw, from_env=False)
    for key, raw in env.items():
        if not key.startswith(ENV_PREFIX) or key == ENV_PREFIX + "CONFIG":
            continue
        name = key.removeprefix(ENV_PREFIX).lower()
        if name not in FIELDS:
            raise ConfigError("unknown_setting", key, "not a tally server setting")
        values[name] = _coerce(name, raw, from_env=True)
    for key, raw in (overrides or {}).items():
        if key not in FIELDS:
            raise ConfigError("unknown_setting", key, "not a tally server setting")
        values[key] = raw
    return TallyConfig(**values)
