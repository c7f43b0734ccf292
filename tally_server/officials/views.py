"""Officials' views. Every view is marked :func:`~tally_server.access.official` with a role."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from tally_server.access import official

officials = Blueprint("officials", __name__, url_prefix="/officials", template_folder="templates")


@officials.get("/")
@official("viewer")
def index() -> ResponseReturnValue:
    return render_template("officials/index.html")
