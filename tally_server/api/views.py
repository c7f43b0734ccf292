"""JSON API views: public reads, and the kiosks' health reports (bearer secret)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, g, request
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from tally_server import public as public_data
from tally_server.access import kiosk_auth, public
from tally_server.api.openapi import openapi_document
from tally_server.app import state, tally_config
from tally_server.db import transaction
from tally_server.errors import Refusal
from tally_server.models import KioskHealth
from tally_server.public import DecryptionProvider

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


# --- public reads -------------------------------------------------------------------------------
def _session() -> Session:
    return state().sessions()


def _provider() -> DecryptionProvider | None:
    provider: DecryptionProvider | None = current_app.extensions.get("tally_decryption")
    return provider


@api.get("/v1/election")
@public
def election() -> ResponseReturnValue:
    with _session() as session:
        return public_data.election_summary(state(), session)


@api.get("/v1/ballots")
@public
def ballots() -> ResponseReturnValue:
    page, per_page = public_data.page_args(request.args, tally_config().page_size)
    status = public_data.single(request.args, "status")
    with _session() as session:
        return public_data.ballots_page(session, page, per_page, status)


@api.get("/v1/ballots/<code>")
@public
def ballot(code: str) -> ResponseReturnValue:
    with _session() as session:
        return public_data.ballot_detail(state(), session, code)


@api.get("/v1/excluded")
@public
def excluded() -> ResponseReturnValue:
    page, per_page = public_data.page_args(request.args, tally_config().page_size)
    with _session() as session:
        return public_data.ballots_page(session, page, per_page, "excluded")


@api.get("/v1/checked")
@public
def checked() -> ResponseReturnValue:
    page, per_page = public_data.page_args(request.args, tally_config().page_size)
    with _session() as session:
        return public_data.checked_page(session, page, per_page)


@api.get("/v1/checked/<code>")
@public
def checked_ballot(code: str) -> ResponseReturnValue:
    with _session() as session:
        return public_data.checked_detail(state(), session, code)


@api.get("/v1/result")
@public
def result() -> ResponseReturnValue:
    with _session() as session:
        verified = public_data.verified(state(), session, _provider())
    return public_data.result_view(state(), verified)


@api.get("/v1/record")
@public
def record() -> ResponseReturnValue:
    """The election record (ippyo/election-record, the core's codec) as far as it is indexed."""
    with _session() as session:
        data = public_data.indexed_record(state(), session, _provider()).to_json()
    response = current_app.response_class(data, mimetype="application/json")
    response.headers["Content-Disposition"] = 'attachment; filename="election-record.json"'
    return response


@api.get("/v1/nodes")
@public
def nodes() -> ResponseReturnValue:
    with _session() as session:
        return public_data.nodes_view(state(), session)


@api.get("/openapi.json")
@public
def openapi() -> ResponseReturnValue:
    return openapi_document(tally_config().observer_base_url)
