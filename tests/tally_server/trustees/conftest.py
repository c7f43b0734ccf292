"""The tally server itself (``create_app``, which mounts the trustee exchange at
/api/v1/trustees, with its access marks, refusal catalogue and security headers), served under
cheroot on 127.0.0.1 as ``ippyo tally serve`` runs it (stopped at the end), and three
trustees' keys."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask

from election.manifest import Manifest
from ippyo.trustee import trustee
from tally_server.app import create_app
from tally_server.config import TallyConfig
from tally_server.db import upgrade
from tally_server.testing import live_server
from tests.election.conftest import small_manifest


@dataclass
class Exchange:
    url: str
    root: Path
    app: Flask


@pytest.fixture()
def exchange(tmp_path: Path) -> Iterator[Exchange]:
    root = tmp_path / "trustees"
    database = f"sqlite:///{tmp_path / 'tally.db'}"
    upgrade(database)
    config = TallyConfig(database_url=database, trustee_dir=root)
    app = create_app(config)
    try:
        with live_server(app, config) as url:
            yield Exchange(url, root, app)
    finally:
        app.extensions["tally"].engine.dispose()


def cli(*args: str) -> Result:
    result = CliRunner().invoke(trustee, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


@dataclass
class People:
    manifest: Manifest
    election: str
    keys: dict[int, Path]
    states: dict[int, Path]


@pytest.fixture()
def people(exchange: Exchange, tmp_path: Path) -> People:
    """Three trustees with their keys; the election registered with quorum 2."""
    manifest = small_manifest()
    manifest_path = tmp_path / "manifest.json"
    manifest_path.write_text(json.dumps(manifest.to_dict(), ensure_ascii=False))
    keys, publics = {}, []
    for i in (1, 2, 3):
        keys[i] = tmp_path / f"trustee-{i}.key"
        result = cli("keygen", "--out", str(keys[i]))
        assert result.exit_code == 0, result.output
        assert keys[i].stat().st_mode & 0o777 == 0o600
        publics.append(f"{i}={result.output.strip()}")
    args = ["setup", "--dir", str(exchange.root), "--manifest", str(manifest_path)]
    args += ["--quorum", "2"]
    for p in publics:
        args += ["--trustee-key", p]
    result = cli(*args)
    assert result.exit_code == 0, result.output
    states = {i: tmp_path / f"trustee-{i}.state" for i in (1, 2, 3)}
    return People(manifest, manifest.election_id.hex(), keys, states)
