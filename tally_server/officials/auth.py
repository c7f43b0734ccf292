"""The officials' login check, CSRF on every form, and the refusal codes of the dashboard.

* :func:`install` runs when the blueprint is registered: it installs :func:`official_check`
  with :func:`tally_server.access.set_official_check` and the CSRF settings.
* The session (Flask's signed cookie ``ippyo_tally_session``, HttpOnly, SameSite=Strict) holds
  only the official's id and the login time; the account is read again on every request, so a
  disabled account is out at once.
* :func:`check_csrf` runs before every officials' request that is not GET/HEAD/OPTIONS: a form
  without the token is ``csrf_token_missing`` (400), a wrong or expired one
  ``csrf_token_invalid`` (400).
"""

from __future__ import annotations

import datetime as dt

from flask import Flask, current_app, g, request, session
from flask_wtf.csrf import generate_csrf, validate_csrf
from sqlalchemy.orm import Session, sessionmaker
from wtforms.validators import ValidationError

from tally_server import access
from tally_server.errors import Refusal, register_reason
from tally_server.officials.accounts import OfficialInfo, active_official, role_allows
from tally_server.officials.dashboard import shown

SESSION_HOURS = 8
SESSION_KEY = "official_id"
LOGIN_AT_KEY = "official_login_at"

REASONS = [
    (
        "too_many_attempts",
        429,
        "ログインの試行が多すぎます。しばらく待ってから再度お試しください",
        "too many login attempts; wait and try again later",
    ),
    (
        "bad_login",
        401,
        "ユーザー名またはパスワードが違います",
        "wrong username or password (or the account is disabled)",
    ),
    (
        "csrf_token_missing",
        400,
        "フォームの確認用トークンがありません。ページを開き直してください",
        "the form's CSRF token is missing; reload the page",
    ),
    (
        "csrf_token_invalid",
        400,
        "フォームの確認用トークンが正しくないか期限切れです。ページを開き直してください",
        "the form's CSRF token is wrong or expired; reload the page",
    ),
    (
        "officials_not_configured",
        503,
        "管理者画面は設定されていません（secret_key がありません）",
        "the officials' area is not configured (no secret_key)",
    ),
    (
        "keystore_not_configured",
        503,
        "管理者の鍵ファイル（admin_keystore）が設定されていません",
        "the admin keystore (admin_keystore) is not configured",
    ),
    ("bad_keystore_password", 403, "鍵ファイルのパスワードが違います", "wrong keystore password"),
    ("bad_keystore", 503, "管理者の鍵ファイルを読めません", "the admin keystore cannot be read"),
    (
        "chain_refused",
        409,
        "ブロックチェーンがこの操作を拒否しました",
        "the chain refused this transaction",
    ),
    ("chain_unavailable", 503, "ブロックチェーンのノードに接続できません", "no chain node answers"),
    ("bad_form", 400, "フォームの入力が正しくありません", "a form field is missing or invalid"),
    (
        "bad_election_plan",
        400,
        "選挙の計画ファイルが正しくありません",
        "the election plan is malformed or its key ceremony does not verify",
    ),
    (
        "election_already_deployed",
        409,
        "選挙はすでに配備されています",
        "the election is already deployed (election_file exists)",
    ),
]
for _code, _status, _ja, _en in REASONS:
    register_reason(_code, _status, _ja, _en)


def install(app: Flask) -> None:
    """Called once when the officials' blueprint is registered on ``app``."""
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", SESSION_HOURS * 3600)
    app.config.setdefault("WTF_CSRF_FIELD_NAME", "csrf_token")
    app.config.setdefault("PERMANENT_SESSION_LIFETIME", dt.timedelta(hours=SESSION_HOURS))
    app.jinja_env.globals["csrf_token"] = generate_csrf
    app.jinja_env.globals["shown"] = shown
    access.set_official_check(app, official_check)
    access.mark_endpoint(app, "officials.static", access.Mark("public"))


def _state_sessions() -> sessionmaker[Session]:
    from tally_server.app import state

    return state().sessions


def require_configured() -> None:
    if not current_app.config.get("SECRET_KEY"):
        raise Refusal("officials_not_configured")


def current_official() -> OfficialInfo | None:
    """The logged-in official of this request (after the check ran), or ``None``."""
    found: OfficialInfo | None = g.get("official")
    return found


def official_check(role: str) -> None:
    """Installed with :func:`access.set_official_check`: return, or refuse with
    ``login_required`` / ``forbidden``. Without a ``secret_key`` nobody can log in: every
    officials' page is ``login_required`` (the login page itself says
    ``officials_not_configured``)."""
    if not current_app.config.get("SECRET_KEY"):
        raise Refusal("login_required", "the officials' area is not configured (no secret_key)")
    official_id = session.get(SESSION_KEY)
    login_at = session.get(LOGIN_AT_KEY)
    if not isinstance(official_id, int) or not isinstance(login_at, int | float):
        raise Refusal("login_required")
    age = dt.datetime.now(dt.UTC).timestamp() - float(login_at)
    if age < 0 or age > SESSION_HOURS * 3600:
        session.clear()
        raise Refusal("login_required", "the session has expired")
    official = active_official(_state_sessions(), official_id)
    if official is None:
        session.clear()
        raise Refusal("login_required", "the account no longer exists or is disabled")
    g.official = official
    if not role_allows(official.role, role):
        raise Refusal("forbidden", f"needs the {role} role; you are {official.role}")


def logged_in() -> OfficialInfo | None:
    """The official of this request's session, without refusing (for the login page)."""
    try:
        official_check("viewer")
    except Refusal:
        return None
    return current_official()


def start_session(official: OfficialInfo) -> None:
    """Log in: a fresh session (no fixation), marked permanent (expires after the limit)."""
    session.clear()
    session.permanent = True
    session[SESSION_KEY] = official.id
    session[LOGIN_AT_KEY] = dt.datetime.now(dt.UTC).timestamp()


def end_session() -> None:
    session.clear()


def check_csrf() -> None:
    """``before_request`` of the officials' blueprint: every state-changing request carries
    the form's token (or the ``X-CSRF-Token`` header)."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    require_configured()
    token = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token")
    if not token:
        raise Refusal("csrf_token_missing")
    try:
        validate_csrf(token)
    except ValidationError as exc:
        raise Refusal("csrf_token_invalid", str(exc)) from exc
