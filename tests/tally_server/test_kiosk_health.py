"""Kiosk health reports (/work/iface.md): 204 and stored; named refusals otherwise."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from tally_server.app import create_app
from tally_server.config import TallyConfig
from tally_server.db import upgrade
from tally_server.models import KioskHealth

SECRET = "kiosk-secret-01"
REPORT = {
    "reader": "card",
    "outbox_depth": 1,
    "wrong_pin": 2,
    "locked": 0,
    "forgotten_pin": 1,
    "refused": 3,
    "ballots_cast": 40,
    "ballots_checked": 2,
}


@pytest.fixture
def health_client(database_url: str, tmp_path: Path) -> Any:
    upgrade(database_url)
    cfg = TallyConfig(
        database_url=database_url,
        kiosk_secrets={"kiosk-01": hashlib.sha256(SECRET.encode()).hexdigest()},
    )
    app = create_app(cfg)
    yield app.test_client(), app
    app.extensions["tally"].engine.dispose()


def _post(client: FlaskClient, body: Any, secret: str = SECRET, kiosk: str = "kiosk-01") -> Any:
    return client.post(
        f"/api/v1/kiosks/{kiosk}/health",
        json=body,
        headers={"Authorization": f"Bearer {secret}"},
    )


def test_a_report_is_stored_with_the_server_time(health_client: Any) -> None:
    client, app = health_client
    response = _post(client, REPORT)
    assert response.status_code == 204, response.data
    with app.extensions["tally"].sessions() as session:
        rows = session.scalars(select(KioskHealth)).all()
    assert len(rows) == 1
    row = rows[0]
    assert row.kiosk_id == "kiosk-01" and row.reader == "card"
    assert (row.wrong_pin, row.forgotten_pin, row.ballots_cast) == (2, 1, 40)
    assert row.received_at is not None


@pytest.mark.parametrize(
    ("secret", "kiosk"), [("wrong", "kiosk-01"), (SECRET, "kiosk-02"), ("", "kiosk-01")]
)
def test_bad_credentials_are_refused(health_client: Any, secret: str, kiosk: str) -> None:
    client, _ = health_client
    response = _post(client, REPORT, secret, kiosk)
    assert response.status_code == 401
    assert response.json["error"] == "bad_kiosk_credentials"


@pytest.mark.parametrize(
    "body",
    [
        [],
        {**REPORT, "reader": "toaster"},
        {**REPORT, "wrong_pin": -1},
        {**REPORT, "wrong_pin": 1.5},
        {**REPORT, "wrong_pin": True},
        {**REPORT, "name": "山田"},
        {k: v for k, v in REPORT.items() if k != "locked"},
    ],
)
def test_malformed_reports_are_refused(health_client: Any, body: Any) -> None:
    client, app = health_client
    response = _post(client, body)
    assert response.status_code == 400
    assert response.json["error"] == "bad_health_report"
    with app.extensions["tally"].sessions() as session:
        assert session.scalars(select(KioskHealth)).all() == []


def test_not_json_is_refused(health_client: Any) -> None:
    client, _ = health_client
    response = client.post(
        "/api/v1/kiosks/kiosk-01/health",
        data="reader=card",
        headers={"Authorization": f"Bearer {SECRET}", "Content-Type": "text/plain"},
    )
    assert response.status_code == 400
    assert response.json["error"] == "bad_health_report"


def test_deeply_nested_json_is_a_named_refusal_not_a_crash(health_client: Any) -> None:
    # web3's py-evm raises the recursion limit to 100 000; without the app's bounded JSON
    # provider this body overflows the C stack and kills the whole server (seen: SIGSEGV).
    import importlib
    import sys

    importlib.import_module("eth")
    assert sys.getrecursionlimit() >= 100_000
    client, _ = health_client
    response = client.post(
        "/api/v1/kiosks/kiosk-01/health",
        data=b"[" * 30_000 + b"]" * 30_000,  # under the 64 KB body limit
        headers={"Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json["error"] == "bad_health_report"
    _, app = health_client
    with pytest.raises(ValueError, match="nested too deeply"):
        app.json.loads("[" * 65 + "]" * 65)  # refused before the parser recurses
    assert app.json.loads('{"a": [[1]]}') == {"a": [[1]]}
