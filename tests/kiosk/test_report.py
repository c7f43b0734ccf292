"""The health report, against an HTTP endpoint that keeps the agreed contract (tally server:
``POST /api/v1/kiosks/<id>/health``, Bearer secret checked by SHA-256, 204 / 401 / 400)."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from kiosk.core.health import HealthCounters, ReaderState
from kiosk.report import (
    BadHealthReport,
    BadKioskCredentials,
    HealthReporter,
    TallyUnreachable,
    health_body,
)
from kiosk.testing import KIOSK_ID

SECRET = "kiosk-secret-01"
FIELDS = {
    "reader": str,
    "outbox_depth": int,
    "wrong_pin": int,
    "locked": int,
    "forgotten_pin": int,
    "refused": int,
    "ballots_cast": int,
    "ballots_checked": int,
}


def contract_app(received: list[tuple[str, dict[str, Any]]]) -> Flask:
    app = Flask("tally-contract")
    secrets = {k: hashlib.sha256(SECRET.encode()).hexdigest() for k in ("kiosk-01", KIOSK_ID)}

    def refuse(status: int, code: str) -> Any:
        body = {"error": code, "message_ja": code, "message_en": code.replace("_", " ")}
        return jsonify(body), status

    @app.post("/api/v1/kiosks/<kiosk_id>/health")
    def health(kiosk_id: str) -> Any:
        auth = request.headers.get("Authorization", "")
        given = hashlib.sha256(auth.removeprefix("Bearer ").encode()).hexdigest()
        if kiosk_id not in secrets or not hmac.compare_digest(given, secrets[kiosk_id]):
            return refuse(401, "bad_kiosk_credentials")
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or set(body) != set(FIELDS):
            return refuse(400, "bad_health_report")
        if any(not isinstance(body[k], t) or isinstance(body[k], bool) for k, t in FIELDS.items()):
            return refuse(400, "bad_health_report")
        if body["reader"] not in {"no_reader", "empty", "card", "unreadable"}:
            return refuse(400, "bad_health_report")
        received.append((kiosk_id, body))
        return "", 204

    return app


@pytest.fixture
def tally() -> Iterator[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    received: list[tuple[str, dict[str, Any]]] = []
    server = make_server("127.0.0.1", 0, contract_app(received), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", received
    server.shutdown()
    thread.join(timeout=5)


def snapshot() -> Any:
    counters = HealthCounters(reader=ReaderState.CARD, wrong_pin=2, locked=1, ballots_cast=7)
    return counters.snapshot("kiosk-01", 1234.5, 3)


def test_a_report_is_accepted_and_carries_only_the_agreed_counters(
    tally: tuple[str, list[tuple[str, dict[str, Any]]]],
) -> None:
    url, received = tally
    HealthReporter(url, "kiosk-01", SECRET).send(snapshot())
    assert received == [
        (
            "kiosk-01",
            {
                "reader": "card",
                "outbox_depth": 3,
                "wrong_pin": 2,
                "locked": 1,
                "forgotten_pin": 0,
                "refused": 0,
                "ballots_cast": 7,
                "ballots_checked": 0,
            },
        )
    ]
    assert set(health_body(snapshot())) == set(FIELDS)  # no time, no token, no kiosk clock


def test_refusals_are_named(tally: tuple[str, list[tuple[str, dict[str, Any]]]]) -> None:
    url, received = tally
    with pytest.raises(BadKioskCredentials):
        HealthReporter(url, "kiosk-01", "wrong").send(snapshot())
    with pytest.raises(BadKioskCredentials):
        HealthReporter(url, "kiosk-99", SECRET).send(snapshot())
    assert received == []


def test_a_malformed_report_and_an_absent_server_are_named(
    tally: tuple[str, list[tuple[str, dict[str, Any]]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = tally
    monkeypatch.setattr("kiosk.report.health_body", lambda h: {"reader": "card"})
    with pytest.raises(BadHealthReport):
        HealthReporter(url, "kiosk-01", SECRET).send(snapshot())
    monkeypatch.undo()
    with pytest.raises(TallyUnreachable):
        HealthReporter("http://127.0.0.1:9", "kiosk-01", SECRET, timeout=1).send(snapshot())
