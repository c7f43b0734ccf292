"""A minimal Flask app with the trustee exchange mounted at /api/v1/trustees, served over
HTTP on 127.0.0.1 by werkzeug in a thread (stopped at the end), and three trustees' keys."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from werkzeug.serving import make_server

from election.manifest import Manifest
from ippyo.trustee import trustee
from tally_server.trustees import create_blueprint
from tests.election.conftest import small_manifest


@dataclass
class Exchange:
    url: str
    root: Path
    app: Flask


@pytest.fixture()
def exchange(tmp_path: Path) -> Iterator[Exchange]:
    root = tmp_path / "trustees"
    app = Flask("trustee-exchange-test")
    app.config["TRUSTEE_DIR"] = str(root)
    app.register_blueprint(create_blueprint(), url_prefix="/api/v1/trustees")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Exchange(f"http://127.0.0.1:{server.server_port}", root, app)
    finally:
        server.shutdown()
        thread.join(timeout=10)


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
