"""HTTP routes of the trustee exchange (mounted at ``/api/v1/trustees``).

| method, path | who | what |
|---|---|---|
| GET `/` | anyone | :func:`~tally_server.trustees.exchange.progress` |
| GET `/<election>` | anyone | one election's progress |
| GET `/<election>/setup` | anyone | n, k, manifest, the trustees' registered keys |
| GET `/<election>/transcript` | anyone | announcements, shares, complaints so far |
| GET `/<election>/ceremony` | anyone | QUAL, K, every X_j (once complete) |
| GET `/<election>/tally` | anyone | the encrypted tally and its context (once published) |
| GET `/<election>/result` | anyone | the counts (once k shares verified) |
| POST `/<election>/uploads` | a trustee (signed) | one signed upload (any kind) |

Refusals are JSON ``{"error", "message_ja", "message_en", "detail"}`` with the code's status.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, jsonify, request

from election.record.codec import too_deep
from tally_server.trustees.exchange import (
    ElectionFiles,
    Refusal,
    election_progress,
    progress,
    trustee_dir,
)

F = TypeVar("F", bound=Callable[..., Any])


def _access(name: str) -> Callable[[F], F]:
    """The tally app's access mark (access is denied by default there); none standalone."""
    try:
        access = importlib.import_module("tally_server.access")
    except ImportError:
        return lambda view: view
    mark: Callable[[F], F] | None = getattr(access, name, None)
    return mark if mark is not None else (lambda view: view)


public = _access("public")
trustee_signed = _access("trustee_signed")


_ELECTION = re.compile(r"[0-9a-f]{64}")


def _root() -> Path:
    """``TRUSTEE_DIR`` from the app config, else the tally app's typed config (an extension
    holding ``config.trustee_dir``)."""
    try:
        return trustee_dir(current_app.config)
    except KeyError:
        for extension in current_app.extensions.values():
            config = getattr(extension, "config", None)
            if getattr(config, "trustee_dir", None) is not None:
                return trustee_dir(config)
        raise


def _election(election: str) -> ElectionFiles:
    if not _ELECTION.fullmatch(election):
        raise Refusal("unknown_election", "an election id is 64 lowercase hex digits")
    directory = _root() / election
    if not (directory / "election.json").is_file():
        raise Refusal("unknown_election", election)
    return ElectionFiles(directory)


def _file(files: ElectionFiles, name: str, what: str) -> Response:
    path: Path = files.dir / name
    if not path.is_file():
        raise Refusal("wrong_phase", f"no {what} yet")
    return jsonify(json.loads(path.read_bytes()))


def _json_body() -> Any:
    """The request's JSON, or None. Nesting is bounded *before* parsing: the tally server
    imports py-evm, which raises the recursion limit to 100 000, where a deeply nested body
    would overflow the C stack and kill the process."""
    if not request.is_json:
        return None
    try:
        text = request.get_data().decode("utf-8")
    except UnicodeDecodeError:
        return None
    if too_deep(text):
        return None
    try:
        return json.loads(text)
    except (RecursionError, ValueError):
        return None


def create_blueprint() -> Blueprint:
    bp = Blueprint("trustees", __name__)

    @bp.errorhandler(Refusal)
    def refused(exc: Refusal) -> tuple[Response, int]:
        return jsonify(exc.to_json()), exc.status

    @bp.get("/")
    @public
    def all_progress() -> Response:
        return jsonify(progress({"TRUSTEE_DIR": _root()}))

    @bp.get("/<election>")
    @public
    def one_progress(election: str) -> Response:
        return jsonify(election_progress(_election(election).load()))

    @bp.get("/<election>/setup")
    @public
    def setup(election: str) -> Response:
        return _file(_election(election), "election.json", "setup")

    @bp.get("/<election>/transcript")
    @public
    def transcript(election: str) -> Response:
        return jsonify(_election(election).transcript())

    @bp.get("/<election>/ceremony")
    @public
    def ceremony(election: str) -> Response:
        return _file(_election(election), "ceremony.json", "ceremony outcome")

    @bp.get("/<election>/tally")
    @public
    def tally(election: str) -> Response:
        return _file(_election(election), "tally.json", "tally")

    @bp.get("/<election>/result")
    @public
    def result(election: str) -> Response:
        return _file(_election(election), "result.json", "result")

    @bp.post("/<election>/uploads")
    @trustee_signed
    def upload(election: str) -> tuple[Response, int]:
        files = _election(election)
        raw = _json_body()
        if raw is None:
            raise Refusal("bad_upload", "the body must be JSON (Content-Type: application/json)")
        return jsonify(files.accept(raw)), 201

    return bp


bp = create_blueprint()
