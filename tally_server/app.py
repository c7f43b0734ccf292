"""``create_app(config)``: the tally server's Flask application.

Three surfaces, one blueprint each: ``observer`` (public pages, no login), ``api`` (JSON under
``/api/v1``, public reads and the kiosks' health reports) and ``officials`` (the dashboard
under ``/officials``, login required). Access is denied by default (:mod:`tally_server.access`);
every refusal is a named error (:mod:`tally_server.errors`), JSON for the API and a page
elsewhere; every answer carries strict security headers (no outside source in the CSP).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app, jsonify, render_template, request
from flask.json.provider import DefaultJSONProvider
from flask.typing import ResponseReturnValue
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import HTTPException

from election.record.codec import too_deep
from tally_server import access
from tally_server.config import TallyConfig
from tally_server.db import make_engine, sessions
from tally_server.errors import HTTP_CODES, Refusal

EXTENSION = "tally"

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


@dataclass
class TallyState:
    """What the app holds besides Flask's own config: ours is typed and frozen."""

    config: TallyConfig
    engine: Engine
    sessions: sessionmaker[Session]
    cache: dict[str, Any] = field(default_factory=dict)


def create_app(config: TallyConfig) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=config.secret_key or None,
        MAX_CONTENT_LENGTH=config.max_content_length,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=config.tls_cert is not None,
        SESSION_COOKIE_NAME="ippyo_tally_session",
        JSON_SORT_KEYS=False,
    )
    app.json = BoundedJSONProvider(app)
    app.json.ensure_ascii = False
    engine = make_engine(config.database_url)
    app.extensions[EXTENSION] = TallyState(config, engine, sessions(engine))

    from tally_server.api import api
    from tally_server.observer import observer
    from tally_server.officials import officials

    app.register_blueprint(observer)
    app.register_blueprint(api)
    app.register_blueprint(officials)
    _mount_trustees(app, config)
    access.mark_endpoint(app, "static", access.Mark("public"))

    app.before_request(access.enforce)
    app.after_request(_security_headers)
    app.register_error_handler(Refusal, _refused)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    return app


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, with nesting bounded *before* parsing. Importing py-evm (web3 does)
    raises Python's recursion limit to 100 000, where a deeply nested body would overflow
    the C stack and kill the server; too deep is a ``ValueError`` like any bad JSON, so
    ``request.get_json(silent=True)`` gives ``None`` and each view names its refusal."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        text = s.decode("utf-8") if isinstance(s, bytes) else s
        if too_deep(text):
            raise ValueError("JSON nested too deeply")
        return super().loads(text, **kwargs)


def _mount_trustees(app: Flask, config: TallyConfig) -> None:
    """The trustees' file exchange at /api/v1/trustees (docs/trustees.md), and the result it
    decrypts for the observer pages and the API."""
    from tally_server.trustees import views as trustee_views

    app.config["TRUSTEE_DIR"] = str(config.trustee_dir)
    app.register_blueprint(trustee_views.create_blueprint(), url_prefix="/api/v1/trustees")
    st: TallyState = app.extensions[EXTENSION]
    # A closure over the app's state, not current_app: large records are verified on a
    # background thread, outside any request.
    app.extensions["tally_decryption"] = lambda tally: _trustee_decryption(st, tally)


def _trustee_decryption(st: TallyState, tally: Any) -> tuple[tuple[Any, ...], Any]:
    """The trustees' verified decryption shares for exactly this encrypted tally, and the
    counts once a quorum of them is in (else ``None``): the exchange checked every share's
    proof against the tally the officials handed over, so it is used only if that tally is
    the one the index sums to."""
    from election.tally import combine
    from tally_server.public import setup_of
    from tally_server.trustees.exchange import ElectionFiles
    from tally_server.trustees.exchange import Refusal as ExchangeRefusal

    setup = setup_of(st)
    election = ElectionFiles(st.config.trustee_dir / setup.context.election_id.hex())
    try:
        exchanged = election.load()
    except (ExchangeRefusal, OSError):
        return (), None
    if exchanged.tally is None or exchanged.tally.tally != tally:
        return (), None
    shares = tuple(exchanged.decryptions[i] for i in sorted(exchanged.decryptions))
    if len(shares) < setup.context.quorum:
        return shares, None
    return shares, combine(setup.context, tally, list(shares[: setup.context.quorum]))


def state() -> TallyState:
    st: TallyState = current_app.extensions[EXTENSION]
    return st


def tally_config() -> TallyConfig:
    return state().config


def _security_headers(response: Any) -> Any:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if tally_config().tls_cert is not None:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if request.path.startswith(("/officials", "/api/v1/kiosks", "/api/v1/trustees")):
        response.headers["Cache-Control"] = "no-store"
    return response


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _refused(exc: Refusal) -> ResponseReturnValue:
    if wants_json():
        response = jsonify(exc.to_json())
        response.status_code = exc.status
        return response
    return render_template("error.html", refusal=exc), exc.status


def _http_error(exc: HTTPException) -> ResponseReturnValue:
    code = HTTP_CODES.get(exc.code or 400, "bad_request")
    response = _refused(Refusal(code, exc.description or ""))
    if exc.code == 405 and exc.response is None:
        allowed = getattr(exc, "valid_methods", None)
        if allowed:
            out = current_app.make_response(response)
            out.headers["Allow"] = ", ".join(allowed)
            return out
    return response


def _unexpected(exc: Exception) -> ResponseReturnValue:
    current_app.logger.exception("internal error")
    return _refused(Refusal("internal_error", type(exc).__name__))
