"""Observer pages. Every view is :func:`~tally_server.access.public`."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from tally_server.access import public

observer = Blueprint("observer", __name__, template_folder="templates")


@observer.get("/")
@public
def index() -> ResponseReturnValue:
    return render_template("observer/index.html")
