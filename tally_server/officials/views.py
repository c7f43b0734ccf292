"""Officials' views. Every view is marked with :func:`~tally_server.access.official` and a role
(viewer < operator < admin), except the login page (public). Every form carries a CSRF token
(:func:`tally_server.officials.auth.check_csrf`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue

from tally_server.access import official, public
from tally_server.errors import Refusal
from tally_server.officials import auth, dashboard, deploy, lifecycle
from tally_server.officials.accounts import (
    AccountError,
    authenticate,
    list_officials,
    recent_actions,
    record_action,
    set_disabled,
)

T = TypeVar("T")

officials = Blueprint(
    "officials",
    __name__,
    url_prefix="/officials",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)


@officials.record_once
def _install(setup_state: BlueprintSetupState) -> None:
    app = setup_state.app
    assert isinstance(app, Flask)
    auth.install(app)


officials.before_request(auth.check_csrf)


def _state() -> Any:
    from tally_server.app import state

    return state()


def _client_address() -> str:
    return request.remote_addr or "unknown"


def _safe_next(target: str | None) -> str:
    """Only a path inside the officials' area (no open redirect)."""
    if (
        target
        and target.startswith("/officials")
        and not urlsplit(target).netloc
        and "//" not in target
        and "\\" not in target
    ):
        return target
    return url_for("officials.index")


@officials.errorhandler(Refusal)
def _refused_here(exc: Refusal) -> ResponseReturnValue:
    """A page without a login goes to the login page; everything else as the app shows it."""
    from tally_server.app import _refused, wants_json

    if exc.code == "login_required" and request.method == "GET" and not wants_json():
        return redirect(url_for("officials.login", next=request.full_path.rstrip("?")))
    return _refused(exc)


def _audited(action: str, run: Callable[[], T], describe: Callable[[T], str]) -> T:
    """Run an official's action and record it (and its refusal's code) in the audit trail."""
    me = auth.current_official()
    who = me.username if me is not None else "?"
    factory = _state().sessions
    try:
        result = run()
    except Refusal as exc:
        record_action(factory, who, action, False, f"{exc.code}: {exc.detail}"[:500])
        raise
    record_action(factory, who, action, True, describe(result))
    return result


def _turnout() -> dict[str, Any]:
    st = _state()
    return dashboard.cached_turnout(st.cache, st.sessions)


def _common() -> dict[str, Any]:
    st = _state()
    return {
        "official": auth.current_official(),
        "alerts": dashboard.alert_counts(st.sessions, st.config),
    }


# --- login --------------------------------------------------------------------------------------
@officials.route("/login", methods=["GET", "POST"])
@public
def login() -> ResponseReturnValue:
    auth.require_configured()
    if request.method == "GET" and auth.logged_in() is not None:
        return redirect(_safe_next(request.args.get("next")))
    refusal: Refusal | None = None
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "")
        password = request.form.get("password", "")
        try:
            who = authenticate(_state().sessions, username, password, _client_address())
        except AccountError as exc:
            refusal = Refusal(exc.code)
        else:
            auth.start_session(who)
            return redirect(_safe_next(request.args.get("next")))
    status = refusal.status if refusal is not None else 200
    return render_template("officials/login.html", refusal=refusal, username=username), status


@officials.post("/logout")
@official("viewer")
def logout() -> ResponseReturnValue:
    auth.end_session()
    return redirect(url_for("officials.login"))


# --- pages --------------------------------------------------------------------------------------
@officials.get("/")
@official("viewer")
def index() -> ResponseReturnValue:
    st = _state()
    phase = lifecycle.cached_phase(st.cache, st.config)
    return render_template(
        "officials/index.html",
        phase=phase,
        phase_name=lifecycle.PHASE_NAMES.get(phase) if phase is not None else None,
        turnout=dashboard.cached_turnout(st.cache, st.sessions),
        trustees=dashboard.trustee_progress(st.config),
        actions=recent_actions(st.sessions, 5),
        election_file=st.config.election_file,
        deployed=st.config.election_file is not None and st.config.election_file.exists(),
        keystore=st.config.admin_keystore,
        **_common(),
    )


@officials.post("/election/<action>")
@official("operator")
def election_action(action: str) -> ResponseReturnValue:
    if action not in ("open", "close"):
        raise Refusal("not_found", f"no election action {action!r}")
    st = _state()
    st.cache.pop(lifecycle.PHASE_CACHE, None)
    try:
        address = _audited(
            action,
            lambda: lifecycle.transact(st.config, action, request.form.get("password", "")),
            lambda signer: f"signed by {signer}",
        )
    finally:
        st.cache.pop(lifecycle.PHASE_CACHE, None)
    done = {"open": ("投票を開始しました", "the election is open"),
            "close": ("投票を終了しました", "the election is closed")}[action]  # fmt: skip
    flash(f"{done[0]} / {done[1]} (admin {address})")
    return redirect(url_for("officials.index"))


@officials.post("/election/deploy")
@official("admin")
def election_deploy() -> ResponseReturnValue:
    st = _state()
    upload = request.files.get("plan")
    if upload is None:
        raise Refusal("bad_form", "the election plan file is required")
    try:
        plan = upload.read(deploy.MAX_PLAN + 1)
        setup = _audited(
            "deploy",
            lambda: deploy.deploy(st.config, plan, request.form.get("password", "")),
            lambda done: f"BallotBox {done.contract_hex} at block {done.first_block}",
        )
    finally:
        st.cache.pop(lifecycle.PHASE_CACHE, None)
    flash(
        f"BallotBox を配備しました / the BallotBox is deployed at {setup.contract_hex} "
        f"(block {setup.first_block}); 索引プロセスを起動してください / start ippyo tally index"
    )
    return redirect(url_for("officials.index"))


@officials.get("/turnout")
@official("viewer")
def turnout_page() -> ResponseReturnValue:
    return render_template("officials/turnout.html", turnout=_turnout(), **_common())


@officials.get("/data/turnout.json")
@official("viewer")
def turnout_data() -> ResponseReturnValue:
    return jsonify(_turnout())


@officials.get("/nodes")
@official("viewer")
def nodes() -> ResponseReturnValue:
    st = _state()
    return render_template(
        "officials/nodes.html",
        nodes=dashboard.node_health(st.sessions, st.config),
        disagreements=dashboard.disagreements(st.sessions),
        events=dashboard.indexer_events(st.sessions),
        **_common(),
    )


@officials.get("/kiosks")
@official("viewer")
def kiosks() -> ResponseReturnValue:
    st = _state()
    return render_template(
        "officials/kiosks.html", kiosks=dashboard.kiosk_health(st.sessions, st.config), **_common()
    )


@officials.get("/alerts")
@official("viewer")
def alerts() -> ResponseReturnValue:
    st = _state()
    return render_template(
        "officials/alerts.html",
        excluded=dashboard.excluded_ballots(st.sessions),
        disagreements=dashboard.disagreements(st.sessions),
        **_common(),
    )


@officials.get("/accounts")
@official("admin")
def accounts() -> ResponseReturnValue:
    return render_template(
        "officials/accounts.html",
        accounts=list_officials(_state().sessions),
        actions=recent_actions(_state().sessions),
        **_common(),
    )


@officials.post("/accounts/<int:official_id>/<action>")
@official("admin")
def account_action(official_id: int, action: str) -> ResponseReturnValue:
    if action not in ("disable", "enable"):
        raise Refusal("not_found", f"no account action {action!r}")
    me = auth.current_official()
    if me is not None and me.id == official_id and action == "disable":
        raise Refusal("bad_form", "you cannot disable your own account")

    def run() -> int:
        try:
            set_disabled(_state().sessions, official_id, action == "disable")
        except AccountError as exc:
            raise Refusal("not_found", str(exc)) from exc
        return official_id

    _audited(action, run, lambda target: f"account #{target}")
    return redirect(url_for("officials.accounts"))
