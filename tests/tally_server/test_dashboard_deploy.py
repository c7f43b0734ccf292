"""Deploying the election from the dashboard: an election plan (manifest, ceremony transcript,
registrar key, kiosks) → the BallotBox on chain, signed with the admin's keystore, and the
election setup file the indexer and the observer pages read."""

from __future__ import annotations

import json
import random
import re
from dataclasses import replace
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from flask.testing import FlaskClient

from contracts.chain import Chain, Sender
from contracts.client import BallotBox, Phase
from election.errors import ElectionError
from election.primitives import blind_rsa
from tally_server.app import create_app
from tally_server.config import TallyConfig
from tally_server.db import upgrade
from tally_server.election_setup import load_setup
from tally_server.officials import accounts
from tally_server.officials.accounts import recent_actions
from tally_server.officials.deploy import plan_from_json
from tally_server.testing import ElectionKit, TesterRpcServer
from tests.tally_server.conftest import make_indexer
from tests.tally_server.dashboard_helpers import (
    KEYSTORE_PASSWORD,
    OFFICIALS,
    SECRET,
    fund,
    make_plan,
    write_keystore,
)


@pytest.fixture
def world(
    rpc: TesterRpcServer, tmp_path: Path, sqlite_url: str
) -> tuple[TallyConfig, Chain, LocalAccount, Sender]:
    chain = Chain.connect([rpc.url])
    admin: LocalAccount = Account.create()
    kiosk = Sender(chain, Account.create())
    fund(chain, [admin.address, kiosk.address])
    upgrade(sqlite_url)
    config = TallyConfig(
        database_url=sqlite_url,
        election_file=tmp_path / "deployed" / "election-setup.json",
        rpc_urls=(rpc.url,),
        confirmations=0,
        admin_keystore=write_keystore(tmp_path / "admin.json", admin),
        secret_key=SECRET,
        trustee_dir=tmp_path / "trustees",
    )
    return config, chain, admin, kiosk


def client_for(config: TallyConfig, name: str) -> tuple[FlaskClient, str]:
    app = create_app(config)
    app.testing = False
    factory = app.extensions["tally"].sessions
    if not accounts.list_officials(factory):
        for who, (role, password) in OFFICIALS.items():
            accounts.add_official(factory, who, password, role)
    client = app.test_client()
    page = client.get("/officials/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    answer = client.post(
        "/officials/login",
        data={"username": name, "password": OFFICIALS[name][1], "csrf_token": token.group(1)},
    )
    assert answer.status_code == 302
    page = client.get("/officials/")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return client, found.group(1)


def post_plan(client: FlaskClient, token: str, plan: bytes, password: str) -> FlaskClient:
    from io import BytesIO

    return client.post(  # type: ignore[return-value]
        "/officials/election/deploy",
        data={"csrf_token": token, "password": password, "plan": (BytesIO(plan), "plan.json")},
        content_type="multipart/form-data",
        headers={"Accept": "application/json"},
    )


def test_deploy_open_and_index_a_ballot(
    world: tuple[TallyConfig, Chain, LocalAccount, Sender],
    registrar_key: blind_rsa.RSAPrivateKey,
) -> None:
    config, chain, _admin, kiosk = world
    plan = make_plan(registrar_key, [kiosk.address])
    operator, op_token = client_for(config, "otto")
    assert 'data-action="deploy"' not in operator.get("/officials/").text
    refused = post_plan(operator, op_token, plan, KEYSTORE_PASSWORD)
    assert refused.status_code == 403  # type: ignore[attr-defined]
    client, token = client_for(config, "ada")
    assert 'data-action="deploy"' in client.get("/officials/").text
    wrong = post_plan(client, token, plan, "wrong password")
    assert wrong.json["error"] == "bad_keystore_password"  # type: ignore[attr-defined]
    assert config.election_file is not None and not config.election_file.exists()

    done = post_plan(client, token, plan, KEYSTORE_PASSWORD)
    assert done.status_code == 302  # type: ignore[attr-defined]
    setup = load_setup(config.election_file)  # strictly parsed: hashes, ceremony, base hash
    box = BallotBox(chain, setup.contract_hex)
    assert box.phase() == Phase.SETUP
    assert box.kiosks() == [kiosk.address]
    assert box.base_hash() == setup.context.base_hash
    assert box.election_id() == setup.context.election_id
    page = client.get("/officials/").text
    assert "the BallotBox is deployed at" in page and 'data-phase="setup"' in page

    again = post_plan(client, token, plan, KEYSTORE_PASSWORD)
    assert again.status_code == 409  # type: ignore[attr-defined]
    assert again.json["error"] == "election_already_deployed"  # type: ignore[attr-defined]

    audit_app = create_app(config)
    factory = audit_app.extensions["tally"].sessions
    trail = [(a.username, a.action, a.ok) for a in reversed(recent_actions(factory))]
    assert trail == [("ada", "deploy", False), ("ada", "deploy", True), ("ada", "deploy", False)]
    assert setup.contract_hex in recent_actions(factory)[1].detail
    audit_app.extensions["tally"].engine.dispose()
    opened = client.post(
        "/officials/election/open", data={"csrf_token": token, "password": KEYSTORE_PASSWORD}
    )
    assert opened.status_code == 302 and box.phase() == Phase.OPEN
    # A kiosk casts against the deployed setup; the indexer counts it with the core's rules.
    kit = object.__new__(ElectionKit)
    kit.chain, kit.registrar, kit.manifest = chain, registrar_key, setup.context.manifest
    kit.rng, kit.context, kit.box, kit.kiosk, kit.setup = (
        random.Random(5),
        setup.context,
        box,
        kiosk,
        setup,
    )
    kit.cast()
    app = create_app(config)
    indexer = make_indexer(kit, app.extensions["tally"].sessions)
    indexer.run(poll_seconds=0.1, once=True)
    data = client.get("/officials/data/turnout.json").json
    assert data is not None and (data["ballots"], data["counted"]) == (1, 1)
    app.extensions["tally"].engine.dispose()


def test_bad_plans_are_refused_by_name(
    world: tuple[TallyConfig, Chain, LocalAccount, Sender],
    registrar_key: blind_rsa.RSAPrivateKey,
) -> None:
    config, _chain, _admin, kiosk = world
    good = json.loads(make_plan(registrar_key, [kiosk.address]))
    client, token = client_for(config, "ada")
    tampered = json.loads(json.dumps(good))
    tampered["ceremony"]["announcements"][0]["commitments"][0] = tampered["ceremony"][
        "announcements"
    ][1]["commitments"][0]
    variants = {
        "not json": b"{",
        "unknown field": json.dumps({**good, "extra": 1}).encode(),
        "no kiosks": json.dumps({**good, "kiosks": []}).encode(),
        "bad kiosk": json.dumps({**good, "kiosks": ["0x12"]}).encode(),
        "kiosk twice": json.dumps({**good, "kiosks": good["kiosks"] * 2}).encode(),
        "wrong format": json.dumps({**good, "format": "ippyo/election-setup"}).encode(),
        "forged ceremony": json.dumps(tampered).encode(),
    }
    for name, body in variants.items():
        answer = post_plan(client, token, body, KEYSTORE_PASSWORD)
        assert answer.status_code == 400, name  # type: ignore[attr-defined]
        assert answer.json["error"] == "bad_election_plan", name  # type: ignore[attr-defined]
    missing = client.post(
        "/officials/election/deploy",
        data={"csrf_token": token, "password": KEYSTORE_PASSWORD},
        headers={"Accept": "application/json"},
    )
    assert missing.status_code == 400 and missing.json is not None
    assert missing.json["error"] == "bad_form"
    no_target = replace(config, election_file=None)
    client2, token2 = client_for(no_target, "ada")
    answer = post_plan(client2, token2, json.dumps(good).encode(), KEYSTORE_PASSWORD)
    assert answer.json["error"] == "election_not_configured"  # type: ignore[attr-defined]
    assert config.election_file is not None and not config.election_file.exists()


def test_plan_round_trip(registrar_key: blind_rsa.RSAPrivateKey) -> None:
    kiosk = Account.create().address
    plan = plan_from_json(make_plan(registrar_key, [kiosk], quorum=3))
    assert plan.kiosks == (kiosk,) and (plan.trustees, plan.quorum) == (3, 3)
    assert plan.registrar_key == registrar_key.public_key
    with pytest.raises(ElectionError):
        plan_from_json(b'{"format": "ippyo/election-plan"}')
