"""The kiosk's health reports, sent to a small real Flask app on 127.0.0.1 that answers as the
tally server's endpoint is agreed to (/work/iface.md): 204, 401 bad_kiosk_credentials,
400 bad_health_report."""

from __future__ import annotations

import hashlib
import itertools
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from kiosk.core.health import HealthCounters, KioskHealth, ReaderState
from kiosk.core.healthreport import HealthReporter, report_body
from kiosk.core.session import State
from kiosk.testing import EmbeddedElection, LiveRegistrar, ReaderSlot, make_session, new_resident

KIOSK = "tsukuba-cityhall-01"
SECRET = "kiosk-secret-for-health"
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


@dataclass
class Tally:
    url: str
    reports: list[tuple[str, dict[str, Any], float]] = field(default_factory=list)
    delay: float = 0.0


def _error(code: str, status: int) -> Any:
    body = {"error": code, "message_ja": "…", "message_en": code.replace("_", " ")}
    return jsonify(body), status


@pytest.fixture
def tally() -> Iterator[Tally]:
    secrets = {KIOSK: hashlib.sha256(SECRET.encode()).hexdigest()}
    app = Flask("tally-health-stand-in")
    state = Tally("")

    @app.post("/api/v1/kiosks/<kiosk_id>/health")
    def health(kiosk_id: str) -> Any:
        time.sleep(state.delay)
        auth = request.headers.get("Authorization", "")
        given = hashlib.sha256(auth.removeprefix("Bearer ").encode()).hexdigest()
        if not auth.startswith("Bearer ") or secrets.get(kiosk_id) != given:
            return _error("bad_kiosk_credentials", 401)
        body = request.get_json(silent=True)
        if (
            not isinstance(body, dict)
            or set(body) != set(FIELDS)
            or not all(type(body[k]) is t and (t is str or body[k] >= 0) for k, t in FIELDS.items())
            or body["reader"] not in {s.value for s in ReaderState}
        ):
            return _error("bad_health_report", 400)
        state.reports.append((kiosk_id, body, time.time()))  # the server stamps the time
        return "", 204

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}"
    yield state
    server.shutdown()
    thread.join(timeout=5)


def snapshot(counters: HealthCounters | None = None, depth: int = 0) -> KioskHealth:
    return (counters or HealthCounters()).snapshot(KIOSK, 12.5, depth)


def test_a_report_is_delivered_with_the_agreed_body(tally: Tally) -> None:
    counters = HealthCounters(ReaderState.CARD, wrong_pin=2, locked=1, ballots_cast=7)
    reporter = HealthReporter(lambda: snapshot(counters, 1), tally.url, KIOSK, SECRET)
    outcome = reporter.report_once()
    assert outcome.delivered and outcome.status == 204
    [(kiosk_id, body, _)] = tally.reports
    assert kiosk_id == KIOSK
    assert body == {
        "reader": "card",
        "outbox_depth": 1,
        "wrong_pin": 2,
        "locked": 1,
        "forgotten_pin": 0,
        "refused": 0,
        "ballots_cast": 7,
        "ballots_checked": 0,
    }


@pytest.mark.parametrize(
    ("secret", "kiosk", "code", "status"),
    [
        ("wrong-secret", KIOSK, "bad_kiosk_credentials", 401),
        (SECRET, "another-kiosk", "bad_kiosk_credentials", 401),
    ],
)
def test_refused_credentials_are_named_and_logged_never_raised(
    tally: Tally,
    caplog: pytest.LogCaptureFixture,
    secret: str,
    kiosk: str,
    code: str,
    status: int,
) -> None:
    caplog.set_level(logging.WARNING, "ippyo.kiosk.health")
    outcome = HealthReporter(snapshot, tally.url, kiosk, secret).report_once()
    assert (outcome.code, outcome.status) == (code, status)
    assert tally.reports == []
    assert code in caplog.text and secret not in caplog.text


def test_a_report_the_server_refuses_as_malformed(tally: Tally) -> None:
    def bad() -> KioskHealth:  # a negative count: the server's check, not the kiosk's
        return HealthCounters(wrong_pin=-1).snapshot(KIOSK, 0.0, 0)

    outcome = HealthReporter(bad, tally.url, KIOSK, SECRET).report_once()
    assert (outcome.code, outcome.status) == ("bad_health_report", 400)


def test_unreachable_slow_or_broken_never_raise(tally: Tally) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    assert HealthReporter(snapshot, closed, KIOSK, SECRET).report_once().code == (
        "tally_unreachable"
    )
    tally.delay = 1.0
    started = time.monotonic()
    slow = HealthReporter(snapshot, tally.url, KIOSK, SECRET, timeout=0.2).report_once()
    assert slow.code == "tally_timeout" and time.monotonic() - started < 0.9

    def broken() -> KioskHealth:
        raise RuntimeError("outbox directory gone")

    assert HealthReporter(broken, tally.url, KIOSK, SECRET).report_once().code == (
        "snapshot_failed"
    )


def test_periodic_reports_at_the_configured_interval(tally: Tally) -> None:
    counters = HealthCounters()
    reporter = HealthReporter(
        lambda: snapshot(counters), tally.url, KIOSK, SECRET, interval=0.2, timeout=2.0
    )
    reporter.start()
    try:
        deadline = time.monotonic() + 10
        while len(tally.reports) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        counters.ballots_cast = 3  # the next report carries the new count
        while len(tally.reports) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        reporter.stop()
    count = len(tally.reports)
    assert count >= 4
    assert tally.reports[-1][1]["ballots_cast"] == 3
    stamps = [t for _, _, t in tally.reports]
    assert all(b - a >= 0.1 for a, b in itertools.pairwise(stamps))
    time.sleep(0.5)
    assert len(tally.reports) == count  # stopped means stopped


def test_a_real_sessions_health_is_reported(
    tally: Tally,
    election: EmbeddedElection,
    registrar: LiveRegistrar,
    slot: ReaderSlot,
    tmp_path: Path,
) -> None:
    session = make_session(election, registrar.client, slot, tmp_path / "outbox")
    slot.insert(registrar.card(new_resident()))
    session.begin()
    session.card_inserted()
    session.enter_pin("WRONG1")
    assert session.state is State.PIN and session.view.pin_error == "wrong_pin"
    reporter = HealthReporter(session.health, tally.url, KIOSK, SECRET)
    assert reporter.report_once().delivered
    body = tally.reports[-1][1]
    assert body["reader"] == "card" and body["wrong_pin"] == 1
    assert body == report_body(session.health())
    session.card_removed()
