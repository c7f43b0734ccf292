"""Tally server fixtures: a migrated database (SQLite, or a real PostgreSQL started here) and
the app with its test client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from contracts.chain import Chain
from election.primitives import blind_rsa
from tally_server.app import create_app
from tally_server.config import TallyConfig
from tally_server.db import make_engine, sessions, upgrade
from tally_server.indexer import Indexer
from tally_server.testing import ElectionKit, TesterRpcServer, postgres_server


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tally.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each kind (not yet migrated)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tally.db'}"
    server: str = request.getfixturevalue("postgres")
    from sqlalchemy import create_engine, text

    name = f"t{abs(hash(request.node.nodeid)) % 10**12}"
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return server.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
def config(sqlite_url: str, tmp_path: Path) -> TallyConfig:
    upgrade(sqlite_url)
    return TallyConfig(
        database_url=sqlite_url,
        kiosk_secrets={"kiosk-01": "a" * 64},
        trustee_dir=tmp_path / "trustees",
    )


@pytest.fixture
def app(config: TallyConfig) -> Iterator[Flask]:
    app = create_app(config)
    app.testing = False  # errors go through the app's handlers, as in production
    yield app
    app.extensions["tally"].engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def rpc() -> Iterator[TesterRpcServer]:
    """The embedded chain (eth-tester) served over JSON-RPC on 127.0.0.1."""
    with TesterRpcServer() as server:
        yield server


@pytest.fixture
def kit(rpc: TesterRpcServer, registrar_key: blind_rsa.RSAPrivateKey) -> ElectionKit:
    """An open election on that chain: ceremony, registrar key, BallotBox."""
    return ElectionKit(Chain.connect([rpc.url]), registrar_key)


@pytest.fixture
def index_db(database_url: str) -> Iterator[sessionmaker[Session]]:
    upgrade(database_url)
    engine = make_engine(database_url)
    yield sessions(engine)
    engine.dispose()


def make_indexer(
    kit: ElectionKit,
    factory: sessionmaker[Session],
    urls: list[str] | None = None,
    *,
    confirmations: int = 0,
    batch_blocks: int = 200,
) -> Indexer:
    chain = Chain.connect(urls) if urls else kit.chain
    return Indexer(
        kit.setup, chain, factory, confirmations=confirmations, batch_blocks=batch_blocks
    )
