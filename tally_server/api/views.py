"""JSON API views: public reads, and the kiosks' health reports (bearer secret)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, g, request
from flask.typing import ResponseReturnValue

from tally_server.access import kiosk_auth
from tally_server.app import state
from tally_server.db import transaction
from tally_server.errors import Refusal
from tally_server.models import KioskHealth

api = Blueprint("api", __name__, url_prefix="/api")

READER_STATES = ("no_reader", "empty", "card", "unreadable")
HEALTH_COUNTERS = (
    "outbox_depth",
    "wrong_pin",
    "locked",
    "forgotten_pin",
    "refused",
    "ballots_cast",
    "ballots_checked",
)
MAX_COUNTER = 2**31 - 1


def json_body() -> Any:
    if not request.is_json:
        raise Refusal("unsupported_media_type", "Content-Type must be application/json")
    body = request.get_json(silent=True)
    if body is None:
        raise Refusal("bad_request", "the body is not JSON")
    return body


@api.post("/v1/kiosks/<kiosk_id>/health")
@kiosk_auth
def kiosk_health(kiosk_id: str) -> ResponseReturnValue:
    """A kiosk's health report (/work/iface.md): stored with the server's time, answered 204."""
    if not request.is_json:
        raise Refusal("bad_health_report", "Content-Type must be application/json")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Refusal("bad_health_report", "the body must be a JSON object")
    expected = {"reader", *HEALTH_COUNTERS}
    unknown = sorted(set(body) - expected)
    missing = sorted(expected - set(body))
    if missing:
        raise Refusal("bad_health_report", f"{missing[0]}: missing")
    if unknown:
        raise Refusal("bad_health_report", f"{unknown[0]}: unknown field")
    if body["reader"] not in READER_STATES:
        raise Refusal("bad_health_report", f"reader: must be one of {', '.join(READER_STATES)}")
    for name in HEALTH_COUNTERS:
        value = body[name]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNTER:
            raise Refusal("bad_health_report", f"{name}: must be an integer 0…{MAX_COUNTER}")
    with transaction(state().sessions) as session:
        session.add(
            KioskHealth(
                kiosk_id=g.kiosk_id,
                received_at=dt.datetime.now(dt.UTC),
                reader=body["reader"],
                **{name: body[name] for name in HEALTH_COUNTERS},
            )
        )
    return "", 204
