"""The dashboard against a real chain (eth-tester over JSON-RPC): open and close signed with the
admin's encrypted keystore, turnout from the index, excluded ballots, node and kiosk health."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from contracts.client import Phase
from election.primitives import blind_rsa
from tally_server.app import create_app
from tally_server.officials.accounts import recent_actions
from tally_server.officials.dashboard import _odd_ones_out
from tally_server.testing import TesterRpcServer
from tests.tally_server.conftest import make_indexer
from tests.tally_server.dashboard_helpers import (
    KEYSTORE_PASSWORD,
    OFFICIALS,
    Election,
    election_config,
)


@pytest.fixture
def election(
    rpc: TesterRpcServer, registrar_key: blind_rsa.RSAPrivateKey, tmp_path: Path, sqlite_url: str
) -> Election:
    return election_config(tmp_path, rpc.url, registrar_key, sqlite_url)


def logged_in(client: FlaskClient, name: str) -> str:
    page = client.get("/officials/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    answer = client.post(
        "/officials/login",
        data={"username": name, "password": OFFICIALS[name][1], "csrf_token": token.group(1)},
    )
    assert answer.status_code == 302
    return csrf(client)


def csrf(client: FlaskClient) -> str:
    page = client.get("/officials/")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def phase_on_page(client: FlaskClient) -> str:
    found = re.search(r'data-phase="([a-z]+)"', client.get("/officials/").text)
    assert found is not None
    return found.group(1)


def test_open_and_close_with_the_keystore(election: Election) -> None:
    app = create_app(election.config)
    app.testing = False
    client = app.test_client()
    token = logged_in(client, "otto")
    assert phase_on_page(client) == "setup"
    page = client.get("/officials/").text
    assert 'data-action="open"' in page and 'data-action="close"' in page
    assert 'data-action="deploy"' not in page  # deployed already
    viewer = app.test_client()
    logged_in(viewer, "vera")
    assert "data-action=" not in viewer.get("/officials/").text  # a viewer sees no action
    wrong = client.post(
        "/officials/election/open",
        data={"csrf_token": token, "password": "not the password"},
        headers={"Accept": "application/json"},
    )
    assert wrong.status_code == 403 and wrong.json is not None
    assert wrong.json["error"] == "bad_keystore_password"
    assert election.kit.box.phase() == Phase.SETUP
    opened = client.post(
        "/officials/election/open", data={"csrf_token": token, "password": KEYSTORE_PASSWORD}
    )
    assert opened.status_code == 302
    assert election.kit.box.phase() == Phase.OPEN
    page = client.get("/officials/")
    assert "the election is open" in page.text and phase_on_page(client) == "open"
    again = client.post(
        "/officials/election/open",
        data={"csrf_token": token, "password": KEYSTORE_PASSWORD},
        headers={"Accept": "application/json"},
    )
    assert again.status_code == 409 and again.json is not None
    assert again.json["error"] == "chain_refused" and "WrongPhase" in again.json["detail"]
    closed = client.post(
        "/officials/election/close", data={"csrf_token": token, "password": KEYSTORE_PASSWORD}
    )
    assert closed.status_code == 302 and election.kit.box.phase() == Phase.CLOSED
    assert phase_on_page(client) == "closed"
    bogus = client.post(
        "/officials/election/tally", data={"csrf_token": token, "password": KEYSTORE_PASSWORD}
    )
    assert bogus.status_code == 404
    # The audit trail: who did what, refusals by code, never a password.
    trail = recent_actions(app.extensions["tally"].sessions)
    assert [(a.username, a.action, a.ok) for a in reversed(trail)] == [
        ("otto", "open", False),
        ("otto", "open", True),
        ("otto", "open", False),
        ("otto", "close", True),
    ]
    assert trail[-1].detail.startswith("bad_keystore_password")
    assert trail[1].detail.startswith("chain_refused")
    assert all(
        KEYSTORE_PASSWORD not in a.detail and "not the password" not in a.detail for a in trail
    )
    overview = client.get("/officials/").text
    assert overview.count("data-action-log=") == 4
    app.extensions["tally"].engine.dispose()


def test_lifecycle_refusals_are_named(election: Election, tmp_path: Path) -> None:
    cases = [
        (replace(election.config, admin_keystore=None), "keystore_not_configured", 503),
        (
            replace(election.config, admin_keystore=tmp_path / "missing.json"),
            "bad_keystore",
            503,
        ),
        (replace(election.config, rpc_urls=("http://127.0.0.1:9",)), "chain_unavailable", 503),
        (replace(election.config, election_file=None), "election_not_configured", 503),
    ]
    (tmp_path / "garbage.json").write_text('{"not": "a keystore"}')
    cases.append(
        (replace(election.config, admin_keystore=tmp_path / "garbage.json"), "bad_keystore", 503)
    )
    for config, code, status in cases:
        app = create_app(config)
        app.testing = False
        client = app.test_client()
        token = logged_in(client, "ada")
        answer = client.post(
            "/officials/election/open",
            data={"csrf_token": token, "password": KEYSTORE_PASSWORD},
            headers={"Accept": "application/json"},
        )
        assert answer.status_code == status and answer.json is not None, code
        assert answer.json["error"] == code
        empty = client.post(
            "/officials/election/open",
            data={"csrf_token": token},
            headers={"Accept": "application/json"},
        )
        assert empty.status_code in (400, 503) and empty.json is not None
        app.extensions["tally"].engine.dispose()
    assert election.kit.box.phase() == Phase.SETUP


def test_turnout_alerts_nodes_and_kiosks(election: Election) -> None:
    kit = election.kit
    kit.box.open(kit.admin)
    app = create_app(election.config)
    app.testing = False
    client = app.test_client()
    logged_in(client, "vera")
    empty = client.get("/officials/data/turnout.json").json
    assert empty is not None and empty["ballots"] == 0 and empty["over_time"] == []
    indexer = make_indexer(kit, app.extensions["tally"].sessions)
    kit.cast()
    kit.cast()
    indexer.run(poll_seconds=0.1, once=True)
    kit.cast()
    bad = kit.cast(corrupt=True)
    indexer.run(poll_seconds=0.1, once=True)
    data = client.get("/officials/data/turnout.json").json
    assert data is not None
    assert (data["ballots"], data["counted"], data["excluded"]) == (4, 3, 1)
    assert [p["ballots"] for p in data["over_time"]][-1] == 4
    assert data["over_time"] == sorted(data["over_time"], key=lambda p: p["ballots"])
    alerts = client.get("/officials/alerts").text
    assert f'data-excluded="{bad.seq}"' in alerts and "bad_proof" in alerts
    nodes = client.get("/officials/nodes").text
    assert election.config.rpc_urls[0] in nodes and "正常" in nodes
    # Kiosk health as the kiosk reports it (/work/iface.md), with forgotten-password counts.
    secret = "kiosk one secret"
    config = replace(
        election.config,
        kiosk_secrets={
            "kiosk-01": hashlib.sha256(secret.encode()).hexdigest(),
            "kiosk-02": "b" * 64,
        },
    )
    app2 = create_app(config)
    app2.testing = False
    report = {
        "reader": "card",
        "outbox_depth": 0,
        "wrong_pin": 2,
        "locked": 0,
        "forgotten_pin": 7,
        "refused": 1,
        "ballots_cast": 3,
        "ballots_checked": 1,
    }
    sent = app2.test_client().post(
        "/api/v1/kiosks/kiosk-01/health", json=report, headers={"Authorization": f"Bearer {secret}"}
    )
    assert sent.status_code == 204
    kiosks = client.get("/officials/kiosks").text
    row = kiosks[kiosks.index('data-kiosk="kiosk-01"') :]
    assert re.search(r'data-field="forgotten_pin">7<', row[: row.index("</tr>")])
    assert "報告なし" in kiosks[kiosks.index('data-kiosk="kiosk-02"') :]
    per_kiosk = client.get("/officials/data/turnout.json").json
    assert per_kiosk is not None
    assert [(k["kiosk"], k["ballots_cast"]) for k in per_kiosk["per_kiosk"]] == [("kiosk-01", 3)]
    app.extensions["tally"].engine.dispose()
    app2.extensions["tally"].engine.dispose()


def test_a_node_on_another_chain_is_flagged(election: Election, rpc: TesterRpcServer) -> None:
    """Two honest nodes and one on another chain: the indexer records the disagreement and
    the dashboard flags the odd one out (and only it)."""
    kit = election.kit
    kit.box.open(kit.admin)
    kit.cast()
    with TesterRpcServer(rpc.backend) as twin, TesterRpcServer() as stranger:
        stranger.backend.handle("evm_mine", [12])
        urls = [election.config.rpc_urls[0], twin.url, stranger.url]
        config = replace(election.config, rpc_urls=tuple(urls))
        app = create_app(config)
        app.testing = False
        indexer = make_indexer(kit, app.extensions["tally"].sessions, urls)
        indexer.run(poll_seconds=0.1, once=True)
        client = app.test_client()
        logged_in(client, "vera")
        page = client.get("/officials/nodes").text
        rows = {url: page[page.index(f'data-node="{url}"') :].split("</tr>")[0] for url in urls}
        assert "data-disagrees" in rows[stranger.url]
        assert "data-disagrees" not in rows[urls[0]] and "data-disagrees" not in rows[twin.url]
        assert "正常" in rows[urls[0]] and "正常" in rows[twin.url]
        assert "block_hash" in page or "head" in page
        alerts = client.get("/officials/alerts").text
        assert "ノード間の不一致" in alerts and 'class="badge bad">0<' not in alerts
        app.extensions["tally"].engine.dispose()


def test_who_is_flagged_in_a_disagreement() -> None:
    assert _odd_ones_out({"a": "h1", "b": "h1", "c": "h2"}) == {"c"}
    assert _odd_ones_out({"a": 10, "b": 17}) == {"a", "b"}  # no majority: both
    assert _odd_ones_out({"a": "x", "b": "y", "c": "z", "d": "x"}) == {"a", "b", "c", "d"}
    assert _odd_ones_out({}) == set()
