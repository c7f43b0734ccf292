"""schemathesis against the live tally server (cheroot on 127.0.0.1) with its own OpenAPI
document: no server error, every answer as documented (status, content type, schema)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from contracts.chain import Chain
from election.primitives import blind_rsa
from tally_server.api.openapi import openapi_document
from tally_server.app import create_app
from tally_server.config import TallyConfig
from tally_server.db import make_engine, sessions, upgrade
from tally_server.errors import REASONS
from tally_server.indexer import Indexer
from tally_server.testing import ElectionKit, TesterRpcServer, live_server


@pytest.fixture(scope="module")
def live_url(
    tmp_path_factory: pytest.TempPathFactory, registrar_key: blind_rsa.RSAPrivateKey
) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("tally-live")
    with TesterRpcServer() as rpc:
        kit = ElectionKit(Chain.connect([rpc.url]), registrar_key)
        for _ in range(3):
            kit.cast()
        kit.cast(corrupt=True)
        kit.challenge()
        url = f"sqlite:///{tmp / 'tally.db'}"
        upgrade(url)
        engine = make_engine(url)
        Indexer(kit.setup, kit.chain, sessions(engine), confirmations=0).run(
            poll_seconds=0.01, once=True
        )
        engine.dispose()
        config = TallyConfig(
            database_url=url,
            election_file=kit.write_setup(tmp / "setup.json"),
            rpc_urls=(rpc.url,),
            kiosk_secrets={"kiosk-01": "0" * 64},
        )
        app = create_app(config)
        try:
            with live_server(app, config) as url:
                yield url
        finally:
            app.extensions["tally"].engine.dispose()


# The document the server serves (checked to be the same below), loaded without a server so
# that pytest can collect one test per operation.
schema = schemathesis.openapi.from_dict(openapi_document())


def named_refusal(ctx: Any, response: Any, case: Any) -> None:
    """Every refusal is a JSON error with a known code, in Japanese and English."""
    if response.status_code < 400:
        return
    body = json.loads(response.content)
    assert body["error"] in REASONS, body
    assert body["message_ja"] and body["message_en"], body


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_the_api_matches_its_openapi_document(case: Any, live_url: str) -> None:
    case.call_and_validate(base_url=live_url, additional_checks=[named_refusal])


def test_the_document_is_served_and_lists_every_api_endpoint(live_url: str) -> None:
    doc = requests.get(f"{live_url}/api/openapi.json", timeout=10).json()
    assert doc == openapi_document()
    assert doc["openapi"].startswith("3.")
    app = create_app(TallyConfig(database_url="sqlite:///:memory:"))
    routes = {
        rule.rule.replace("<", "{").replace(">", "}")
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
    }
    assert routes == set(doc["paths"])
