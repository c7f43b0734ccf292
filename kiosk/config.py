"""``kiosk.toml``: the kiosk's configuration, parsed into a typed :class:`KioskConfig` (no Qt).

Every bad field is refused with a :class:`ConfigError` naming the field and what is wrong
(``MissingField``, ``WrongType``, ``BadValue``, ``FileMissing``). Relative paths are read
relative to the configuration file. Example::

    kiosk_id = "tsukuba-01"
    language = "ja"                      # the language a new voter sees first: ja | en
    observer_base_url = "https://observer.example.jp"
    confirmations = 1                    # blocks before the receipt is shown
    inactivity_timeout = 120             # seconds without a touch before the kiosk wipes
    outbox = "outbox"                    # durable outbox directory

    [registrar]
    url = "https://registrar.example.jp"
    secret_file = "kiosk-secret.txt"     # or: secret = "..."

    [chain]
    rpc = ["http://10.0.0.1:8545", "http://10.0.0.2:8545"]
    contract = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    key_file = "kiosk-key.hex"           # the kiosk's transaction key (hex)

    [election]
    manifest = "manifest.json"
    trustees = 3
    quorum = 2
    joint_public_key = "02ab…"           # hex, from the key ceremony

    [card]
    backend = "pcsc"                     # pcsc | virtual
    reader = ""                          # pcsc: a reader name; empty = the first reader
    image = ""                           # virtual: a test card image (JSON)

    [receipt]
    printer = "none"                     # none | pdf | system
    pdf_dir = "receipts"

    [health]                             # optional: reports to the officials' dashboard
    tally_url = "https://tally.example.jp"
    secret_file = "kiosk-health-secret.txt"
    interval = 60                        # seconds between reports
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from election.errors import ElectionError
from election.manifest import Manifest, manifest_from_dict
from election.primitives.group import Point


class ConfigError(Exception):
    """A bad configuration: ``field`` names it (``chain.rpc``), ``code`` says what is wrong."""

    code = "bad_config"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class MissingField(ConfigError):
    code = "missing"


class WrongType(ConfigError):
    code = "wrong_type"


class BadValue(ConfigError):
    code = "bad_value"


class FileMissing(ConfigError):
    code = "file_missing"


@dataclass(frozen=True)
class KioskConfig:
    source: Path
    kiosk_id: str
    language: str
    observer_base_url: str
    confirmations: int
    inactivity_timeout: float
    outbox_dir: Path
    registrar_url: str
    registrar_secret: str = field(repr=False)
    rpc_urls: tuple[str, ...]
    contract: str
    kiosk_key: str = field(repr=False)
    manifest: Manifest
    trustees: int
    quorum: int
    joint_public_key: Point
    card_backend: str
    card_reader: str
    card_image: Path | None
    printer: str
    pdf_dir: Path
    health_url: str | None = None
    health_secret: str | None = field(default=None, repr=False)
    health_interval: int = 60


_KIOSK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
_TOP = {
    "kiosk_id",
    "language",
    "observer_base_url",
    "confirmations",
    "inactivity_timeout",
    "outbox",
    "registrar",
    "chain",
    "election",
    "card",
    "receipt",
    "health",
}
_SECTIONS = {
    "registrar": {"url", "secret", "secret_file"},
    "chain": {"rpc", "contract", "key_file", "key"},
    "election": {"manifest", "trustees", "quorum", "joint_public_key"},
    "card": {"backend", "reader", "image"},
    "receipt": {"printer", "pdf_dir"},
    "health": {"tally_url", "secret_file", "interval"},
}


class _Reader:
    def __init__(self, data: dict[str, Any], base: Path) -> None:
        self.data = data
        self.base = base

    def _get(self, name: str) -> Any:
        node: Any = self.data
        for part in name.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    def text(self, name: str, default: str | None = None) -> str:
        value = self._get(name)
        if value is None:
            if default is None:
                raise MissingField(name, "is required")
            return default
        if not isinstance(value, str):
            raise WrongType(name, f"must be a string, not {type(value).__name__}")
        return value.strip()

    def integer(self, name: str, default: int | None, lo: int, hi: int) -> int:
        value = self._get(name)
        if value is None:
            if default is None:
                raise MissingField(name, "is required")
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise WrongType(name, f"must be a whole number, not {type(value).__name__}")
        if not lo <= value <= hi:
            raise BadValue(name, f"must be between {lo} and {hi} (got {value})")
        return value

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.text(name, default)
        if value not in allowed:
            raise BadValue(name, f"must be one of {', '.join(allowed)} (got {value!r})")
        return value

    def url(self, name: str, value: str | None = None) -> str:
        text = self.text(name) if value is None else value
        parsed = urlparse(text)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise BadValue(name, f"must be an http(s) URL (got {text!r})")
        return text.rstrip("/")

    def path(self, name: str, default: str | None = None) -> Path:
        path = Path(self.text(name, default))
        return path if path.is_absolute() else self.base / path

    def existing_file(self, name: str) -> Path:
        path = self.path(name)
        if not path.is_file():
            raise FileMissing(name, f"no such file: {path}")
        return path


def load_config(path: Path) -> KioskConfig:
    """Read and check ``kiosk.toml``; raises a :class:`ConfigError` naming the bad field."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FileMissing("config", f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BadValue("config", f"{path} is not valid TOML: {exc}") from exc
    return parse_config(data, path.resolve().parent, source=path)


def parse_config(data: dict[str, Any], base: Path, *, source: Path | None = None) -> KioskConfig:
    unknown = sorted(set(data) - _TOP)
    if unknown:
        raise BadValue(unknown[0], "is not a known setting")
    for section, keys in _SECTIONS.items():
        value = data.get(section)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise WrongType(section, "must be a table ([section])")
        extra = sorted(set(value) - keys)
        if extra:
            raise BadValue(f"{section}.{extra[0]}", "is not a known setting")
    r = _Reader(data, base)

    kiosk_id = r.text("kiosk_id")
    if not _KIOSK_ID.match(kiosk_id):
        raise BadValue("kiosk_id", "use 1–64 letters, digits, '.', '_' or '-'")

    secret_inline = r._get("registrar.secret")
    if secret_inline is not None and r._get("registrar.secret_file") is not None:
        raise BadValue("registrar.secret", "give secret or secret_file, not both")
    if secret_inline is not None:
        secret = r.text("registrar.secret")
    else:
        secret_path = r.existing_file("registrar.secret_file")
        secret = secret_path.read_text("utf-8").strip()
    if not secret:
        raise BadValue("registrar.secret", "is empty")

    rpc = r._get("chain.rpc")
    if rpc is None:
        raise MissingField("chain.rpc", "is required (one or more RPC URLs)")
    if isinstance(rpc, str):
        rpc = [rpc]
    if not isinstance(rpc, list) or not rpc:
        raise WrongType("chain.rpc", "must be a list of RPC URLs")
    rpc_urls = []
    for i, url in enumerate(rpc):
        if not isinstance(url, str):
            raise WrongType(f"chain.rpc[{i}]", "must be a string")
        rpc_urls.append(r.url(f"chain.rpc[{i}]", url))

    contract = r.text("chain.contract")
    if not _ADDRESS.match(contract):
        raise BadValue("chain.contract", "must be a 0x-prefixed 20-byte hex address")

    if r._get("chain.key") is not None:
        raise BadValue("chain.key", "keep the kiosk key in a file (chain.key_file), not here")
    key = r.existing_file("chain.key_file").read_text("utf-8").strip()
    if not _KEY.match(key):
        raise BadValue("chain.key_file", "must hold a 32-byte hex private key")

    manifest_path = r.existing_file("election.manifest")
    try:
        manifest = manifest_from_dict(json.loads(manifest_path.read_text("utf-8")))
    except (ValueError, ElectionError) as exc:
        raise BadValue("election.manifest", f"not a valid manifest: {exc}") from exc
    trustees = r.integer("election.trustees", None, 1, 64)
    quorum = r.integer("election.quorum", None, 1, 64)
    if quorum > trustees:
        raise BadValue("election.quorum", f"cannot exceed trustees ({trustees})")
    try:
        joint = Point.from_hex(r.text("election.joint_public_key"))
    except ElectionError as exc:
        raise BadValue("election.joint_public_key", f"not a group element: {exc}") from exc
    if joint.is_identity:
        raise BadValue("election.joint_public_key", "cannot be the identity")

    backend = r.choice("card.backend", "pcsc", ("pcsc", "virtual"))
    image: Path | None = None
    if backend == "virtual":
        image = r.existing_file("card.image")
    printer = r.choice("receipt.printer", "none", ("none", "pdf", "system"))
    health_url = health_secret = None
    if data.get("health") is not None:
        health_url = r.url("health.tally_url")
        health_secret = r.existing_file("health.secret_file").read_text("utf-8").strip()
        if not health_secret:
            raise BadValue("health.secret_file", "is empty")

    return KioskConfig(
        source=source or base / "kiosk.toml",
        kiosk_id=kiosk_id,
        language=r.choice("language", "ja", ("ja", "en")),
        observer_base_url=r.url("observer_base_url"),
        confirmations=r.integer("confirmations", 1, 1, 64),
        inactivity_timeout=float(r.integer("inactivity_timeout", 120, 15, 3600)),
        outbox_dir=r.path("outbox", "outbox"),
        registrar_url=r.url("registrar.url"),
        registrar_secret=secret,
        rpc_urls=tuple(rpc_urls),
        contract=contract,
        kiosk_key=key,
        manifest=manifest,
        trustees=trustees,
        quorum=quorum,
        joint_public_key=joint,
        card_backend=backend,
        card_reader=r.text("card.reader", ""),
        card_image=image,
        printer=printer,
        pdf_dir=r.path("receipt.pdf_dir", "receipts"),
        health_url=health_url,
        health_secret=health_secret,
        health_interval=r.integer("health.interval", 60, 5, 3600),
    )
