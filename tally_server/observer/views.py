"""Observer pages. Every view is :func:`~tally_server.access.public`; no JavaScript."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from election.ballot import tracking_code
from tally_server import public as data
from tally_server.access import public
from tally_server.app import state, tally_config
from tally_server.public import DecryptionProvider

observer = Blueprint("observer", __name__, template_folder="templates")


def _session() -> Session:
    return state().sessions()


def _provider() -> DecryptionProvider | None:
    provider: DecryptionProvider | None = current_app.extensions.get("tally_decryption")
    return provider


def _pages(listing: dict[str, Any]) -> dict[str, Any]:
    last = max(1, -(-listing["total"] // listing["per_page"]))
    return {"page": listing["page"], "last": last, "per_page": listing["per_page"]}


@observer.get("/")
@public
def index() -> ResponseReturnValue:
    with _session() as session:
        summary = data.election_summary(state(), session)
    return render_template("observer/index.html", s=summary)


@observer.get("/ballots")
@public
def ballots() -> ResponseReturnValue:
    page, per_page = data.page_args(request.args, tally_config().page_size)
    status = data.single(request.args, "status")
    with _session() as session:
        listing = data.ballots_page(session, page, per_page, status)
    return render_template(
        "observer/ballots.html", listing=listing, pages=_pages(listing), status=status
    )


@observer.get("/ballots/lookup")
@public
def lookup() -> ResponseReturnValue:
    code = (data.single(request.args, "code") or "").strip()
    digest = data.parse_code(code)  # a named refusal for anything that is not a code
    return redirect(url_for("observer.ballot", code=tracking_code(digest)), code=303)


@observer.get("/ballots/<code>")
@public
def ballot(code: str) -> ResponseReturnValue:
    with _session() as session:
        item = data.ballot_detail(state(), session, code)
    return render_template("observer/ballot.html", b=item)


@observer.get("/excluded")
@public
def excluded() -> ResponseReturnValue:
    page, per_page = data.page_args(request.args, tally_config().page_size)
    with _session() as session:
        listing = data.ballots_page(session, page, per_page, "excluded")
    return render_template("observer/excluded.html", listing=listing, pages=_pages(listing))


@observer.get("/checked")
@public
def checked() -> ResponseReturnValue:
    page, per_page = data.page_args(request.args, tally_config().page_size)
    with _session() as session:
        listing = data.checked_page(session, page, per_page)
    return render_template("observer/checked.html", listing=listing, pages=_pages(listing))


@observer.get("/checked/<code>")
@public
def checked_ballot(code: str) -> ResponseReturnValue:
    with _session() as session:
        item = data.checked_detail(state(), session, code)
    return render_template("observer/checked_ballot.html", c=item)


@observer.get("/result")
@public
def result() -> ResponseReturnValue:
    with _session() as session:
        summary = data.election_summary(state(), session)
        verified = data.verified(state(), session, _provider())
    return render_template("observer/result.html", s=summary, r=data.result_view(state(), verified))


@observer.get("/record.json")
@public
def record() -> ResponseReturnValue:
    with _session() as session:
        payload = data.indexed_record(state(), session, _provider()).to_json()
    response = current_app.response_class(payload, mimetype="application/json")
    response.headers["Content-Disposition"] = 'attachment; filename="election-record.json"'
    return response


@observer.get("/nodes")
@public
def nodes() -> ResponseReturnValue:
    with _session() as session:
        view = data.nodes_view(state(), session)
    return render_template("observer/nodes.html", n=view)
