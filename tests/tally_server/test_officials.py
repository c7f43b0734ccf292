"""The officials' accounts: login, sessions, roles, CSRF on every form, the login rate limit
(counted in the database, so every server thread and process shares it) and the CLI."""

from __future__ import annotations

import datetime as dt
import re
import sys
import types
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tally_server.app import create_app
from tally_server.cli import tally
from tally_server.config import TallyConfig
from tally_server.db import transaction, upgrade
from tally_server.officials import accounts
from tally_server.officials.models import LoginAttempt, Official

SECRET = "s" * 40
PASSWORDS = {"vera": "viewer password 1", "otto": "operator password 2", "ada": "admin password 3"}


@pytest.fixture
def officials_app(config: TallyConfig) -> Iterator[Flask]:
    app = create_app(replace(config, secret_key=SECRET))
    app.testing = False
    factory = app.extensions["tally"].sessions
    for (name, password), role in zip(
        PASSWORDS.items(), ("viewer", "operator", "admin"), strict=True
    ):
        accounts.add_official(factory, name, password, role)
    yield app
    app.extensions["tally"].engine.dispose()


def token_of(client: FlaskClient, path: str = "/officials/login") -> str:
    page = client.get(path)
    if page.status_code == 302 and path == "/officials/login":  # already logged in
        page = client.get("/officials/")
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def login(client: FlaskClient, name: str, password: str | None = None) -> int:
    token = token_of(client)
    answer = client.post(
        "/officials/login",
        data={"username": name, "password": password or PASSWORDS[name], "csrf_token": token},
    )
    return answer.status_code


def refusal_code(text: str) -> str | None:
    found = re.search(r'data-refusal="([a-z_]+)"', text) or re.search(
        r'class="code">([a-z_]+)', text
    )
    return found.group(1) if found else None


def test_pages_need_a_login(officials_app: Flask) -> None:
    client = officials_app.test_client()
    page = client.get("/officials/nodes")
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/officials/login?next=/officials/nodes")
    data = client.get("/officials/data/turnout.json", headers={"Accept": "application/json"})
    assert data.status_code == 401 and data.json is not None
    assert data.json["error"] == "login_required"
    token = token_of(client)
    post = client.post("/officials/election/close", data={"csrf_token": token, "password": "x"})
    assert post.status_code == 401 and refusal_code(post.text) == "login_required"


def test_login_logout_and_every_page(officials_app: Flask) -> None:
    client = officials_app.test_client()
    assert login(client, "ada") == 302
    for path in ("/", "/turnout", "/nodes", "/kiosks", "/alerts", "/accounts"):
        page = client.get("/officials" + path)
        assert page.status_code == 200, (path, page.text[:400])
        assert "ada" in page.text and "Log out" in page.text
        assert page.headers["Cache-Control"] == "no-store"
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        assert "<script>" not in page.text  # no inline script anywhere
    again = client.get("/officials/login?next=/officials/kiosks")  # already logged in
    assert again.status_code == 302 and again.headers["Location"] == "/officials/kiosks"
    cookie = client.get_cookie("ippyo_tally_session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Strict"
    token = token_of(client, "/officials/")
    out = client.post("/officials/logout", data={"csrf_token": token})
    assert out.status_code == 302 and out.headers["Location"] == "/officials/login"
    assert client.get("/officials/").status_code == 302


def test_wrong_password_and_unknown_user_are_the_same_refusal(officials_app: Flask) -> None:
    client = officials_app.test_client()
    for name, password in (("ada", "not her password"), ("nobody", "whatever password")):
        token = token_of(client)
        answer = client.post(
            "/officials/login", data={"username": name, "password": password, "csrf_token": token}
        )
        assert answer.status_code == 401
        assert refusal_code(answer.text) == "bad_login"
    assert client.get("/officials/").status_code == 302


def test_next_never_leaves_the_officials_area(officials_app: Flask) -> None:
    for target in ("//evil.example/officials", "https://evil.example/", "/officials//evil"):
        client = officials_app.test_client()
        token = token_of(client)
        answer = client.post(
            f"/officials/login?next={target}",
            data={"username": "vera", "password": PASSWORDS["vera"], "csrf_token": token},
        )
        assert answer.headers["Location"] == "/officials/", target
        # Already logged in, the login page sends one on, never outside either.
        again = client.get(f"/officials/login?next={target}")
        assert again.headers["Location"] == "/officials/", target


def test_csrf_on_every_form(officials_app: Flask) -> None:
    client = officials_app.test_client()
    missing = client.post(
        "/officials/login", data={"username": "ada", "password": PASSWORDS["ada"]}
    )
    assert missing.status_code == 400 and refusal_code(missing.text) == "csrf_token_missing"
    forged = client.post(
        "/officials/login",
        data={"username": "ada", "password": PASSWORDS["ada"], "csrf_token": "forged.token"},
    )
    assert forged.status_code == 400 and refusal_code(forged.text) == "csrf_token_invalid"
    assert login(client, "ada") == 302
    # Logged in, every form still needs the token: logout, lifecycle, accounts.
    vera = (
        officials_app.extensions["tally"]
        .sessions()
        .scalar(select(Official.id).where(Official.username == "vera"))
    )
    for path in (
        "/officials/logout",
        "/officials/election/open",
        f"/officials/accounts/{vera}/disable",
    ):
        answer = client.post(path, data={"password": "x"}, headers={"Accept": "application/json"})
        assert answer.status_code == 400 and answer.json is not None, path
        assert answer.json["error"] == "csrf_token_missing"
    # A token from another session is refused too.
    other = officials_app.test_client()
    foreign = token_of(other)
    answer = client.post("/officials/logout", data={"csrf_token": foreign})
    assert answer.status_code == 400 and refusal_code(answer.text) == "csrf_token_invalid"
    assert client.get("/officials/").status_code == 200  # still logged in


def test_roles(officials_app: Flask) -> None:
    viewer = officials_app.test_client()
    assert login(viewer, "vera") == 302
    assert viewer.get("/officials/").status_code == 200
    assert "Keystore password" not in viewer.get("/officials/").text
    assert viewer.get("/officials/accounts").status_code == 403
    token = token_of(viewer, "/officials/")
    act = viewer.post("/officials/election/open", data={"csrf_token": token, "password": "x"})
    assert act.status_code == 403 and refusal_code(act.text) == "forbidden"
    operator = officials_app.test_client()
    assert login(operator, "otto") == 302
    assert 'data-phase="undeployed"' in operator.get("/officials/").text
    assert operator.get("/officials/accounts").status_code == 403
    token = token_of(operator, "/officials/")
    act = operator.post(
        "/officials/election/open",
        data={"csrf_token": token, "password": "x"},
        headers={"Accept": "application/json"},
    )
    # Allowed to act: refused only because this server has no election set up.
    assert act.status_code == 503 and act.json is not None
    assert act.json["error"] == "election_not_configured"


def test_a_disabled_account_is_out_at_once(officials_app: Flask) -> None:
    admin, viewer = officials_app.test_client(), officials_app.test_client()
    assert login(admin, "ada") == 302 and login(viewer, "vera") == 302
    assert viewer.get("/officials/").status_code == 200
    vera = (
        officials_app.extensions["tally"]
        .sessions()
        .scalar(select(Official.id).where(Official.username == "vera"))
    )
    token = token_of(admin, "/officials/accounts")
    assert (
        admin.post(f"/officials/accounts/{vera}/disable", data={"csrf_token": token}).status_code
        == 302
    )
    assert viewer.get("/officials/").status_code == 302
    assert login(viewer, "vera") == 401
    token = token_of(admin, "/officials/accounts")
    admin.post(f"/officials/accounts/{vera}/enable", data={"csrf_token": token})
    assert login(viewer, "vera") == 302
    page = admin.get("/officials/accounts").text
    assert page.count('data-action-log="disable"') == 1 and 'data-action-log="enable"' in page


def test_rate_limit_per_username_is_shared_by_every_server(
    officials_app: Flask, config: TallyConfig
) -> None:
    second = create_app(replace(config, secret_key=SECRET))  # another process, same database
    second.testing = False
    try:
        clients = [officials_app.test_client(), second.test_client()]
        for i in range(accounts.MAX_FAILURES_PER_USERNAME):
            assert login(clients[i % 2], "ada", "wrong password") == 401
        for client in clients:  # the right password no longer helps, on either server
            token = token_of(client)
            answer = client.post(
                "/officials/login",
                data={"username": "ada", "password": PASSWORDS["ada"], "csrf_token": token},
            )
            assert answer.status_code == 429 and refusal_code(answer.text) == "too_many_attempts"
        assert login(clients[0], "otto") == 302  # other accounts are not locked
    finally:
        second.extensions["tally"].engine.dispose()


def test_rate_limit_per_client_address(officials_app: Flask) -> None:
    client = officials_app.test_client()
    for i in range(accounts.MAX_FAILURES_PER_CLIENT):
        assert login(client, f"guess{i}", "wrong password") == 401
    assert login(client, "otto") == 429
    other = officials_app.test_client()
    other.environ_base["REMOTE_ADDR"] = "127.0.0.2"
    assert login(other, "otto") == 302


def test_success_resets_the_username_count(officials_app: Flask) -> None:
    client = officials_app.test_client()
    for _ in range(accounts.MAX_FAILURES_PER_USERNAME - 1):
        assert login(client, "vera", "wrong password") == 401
    assert login(client, "vera") == 302
    for _ in range(accounts.MAX_FAILURES_PER_USERNAME - 1):
        assert login(client, "vera", "wrong password") == 401
    assert login(client, "vera") == 302
    with officials_app.extensions["tally"].sessions() as session:
        rows = session.scalars(select(LoginAttempt).where(LoginAttempt.username == "vera")).all()
    assert [r.ok for r in rows].count(True) == 2 and len(rows) == 10


def test_passwords_are_scrypt_hashes(officials_app: Flask) -> None:
    with officials_app.extensions["tally"].sessions() as session:
        rows = session.scalars(select(Official)).all()
    for row in rows:
        assert row.password_hash.startswith("scrypt:")
        assert PASSWORDS[row.username] not in row.password_hash


def test_officials_area_without_a_secret_key(app: Flask) -> None:
    client = app.test_client()
    answer = client.get("/officials/login", headers={"Accept": "application/json"})
    assert answer.status_code == 503 and answer.json is not None
    assert answer.json["error"] == "officials_not_configured"


def test_cli_add_official(config: TallyConfig, tmp_path: object) -> None:
    runner = CliRunner()
    env = {"IPPYO_TALLY_DATABASE_URL": config.database_url}
    added = runner.invoke(
        tally,
        ["add-official", "carol", "--role", "operator", "--password-stdin"],
        input="a long enough password\n",
        env=env,
    )
    assert added.exit_code == 0, added.output
    again = runner.invoke(
        tally, ["add-official", "carol", "--password-stdin"], input="another password 9\n", env=env
    )
    assert again.exit_code == 1 and "official_exists" in again.output
    weak = runner.invoke(
        tally, ["add-official", "dave", "--password-stdin"], input="short\n", env=env
    )
    assert weak.exit_code == 1 and "weak_password" in weak.output
    bad = runner.invoke(
        tally,
        ["add-official", "no spaces", "--password-stdin"],
        input="long password 12\n",
        env=env,
    )
    assert bad.exit_code == 1 and "bad_username" in bad.output
    prompted = runner.invoke(
        tally, ["add-official", "erin"], input="prompted password 1\nprompted password 1\n", env=env
    )
    assert prompted.exit_code == 0, prompted.output
    changed = runner.invoke(
        tally, ["set-password", "erin", "--password-stdin"], input="changed password 22\n", env=env
    )
    assert changed.exit_code == 0, changed.output
    app = create_app(replace(config, secret_key=SECRET))
    app.testing = False
    try:
        client = app.test_client()
        assert login(client, "carol", "a long enough password") == 302
        assert login(app.test_client(), "erin", "prompted password 1") == 401
        assert login(app.test_client(), "erin", "changed password 22") == 302
        assert "otto" not in client.get("/officials/").text
        assert "carol（操作" in client.get("/officials/").text  # an operator
    finally:
        app.extensions["tally"].engine.dispose()


def test_login_and_rate_limit_on_each_database(database_url: str, tmp_path: Path) -> None:
    """The attempts are counted in SQLite and PostgreSQL alike; old attempts are pruned."""
    upgrade(database_url)
    app = create_app(
        TallyConfig(database_url=database_url, secret_key=SECRET, trustee_dir=tmp_path / "t")
    )
    app.testing = False
    factory = app.extensions["tally"].sessions
    try:
        accounts.add_official(factory, "ada", PASSWORDS["ada"], "admin")
        with transaction(factory) as session:  # an attempt from long ago
            session.add(
                LoginAttempt(
                    at=accounts.now() - dt.timedelta(days=40), username="ada", client="x", ok=False
                )
            )
        client = app.test_client()
        assert login(client, "ada") == 302
        with factory() as session:
            assert session.scalar(select(func.count()).select_from(LoginAttempt)) == 1
        for _ in range(accounts.MAX_FAILURES_PER_USERNAME):
            assert login(client, "ada", "wrong password") == 401
        assert login(client, "ada") == 429
    finally:
        app.extensions["tally"].engine.dispose()


def test_trustee_progress_is_shown_when_the_exchange_is_installed(
    officials_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trustee exchange (tally_server/trustees, another part) is mounted by the lead; here
    only its agreed interface ``progress(config) -> dict`` stands in, with its documented shape."""
    client = officials_app.test_client()
    assert login(client, "vera") == 302
    monkeypatch.setitem(sys.modules, "tally_server.trustees", None)  # not importable
    assert "The trustee exchange is not installed" in client.get("/officials/").text
    answer = {
        "elections": [
            {
                "election_id": "ab" * 32,
                "name": {"ja": "つくば市長選挙", "en": "Tsukuba mayoral election"},
                "trustees": 3,
                "quorum": 2,
                "phase": "decrypt",
                "announced": [1, 2, 3],
                "dealt": [1, 2, 3],
                "complained": [1, 2, 3],
                "complaints": 0,
                "qualified": [1, 2, 3],
                "joint_public_key": "02" + "cd" * 32,
                "ceremony_error": None,
                "tally_ready": True,
                "ballot_count": 1234,
                "decrypted": [2],
                "result": None,
            }
        ]
    }
    seen: list[object] = []

    def progress(config: object) -> dict[str, object]:
        seen.append(config)
        return answer

    monkeypatch.setitem(
        sys.modules, "tally_server.trustees", types.SimpleNamespace(progress=progress)
    )
    page = client.get("/officials/").text
    assert seen and getattr(seen[0], "secret_key", None) == SECRET  # the typed config
    assert 'data-trustee-election="' + "ab" * 32 in page
    assert "復号中" in page and "1234" in page and "1/2" in page
    assert "announced</span> 3/3" in page

    def broken(config: object) -> dict[str, object]:
        raise OSError("trustee_dir unreadable")

    monkeypatch.setitem(
        sys.modules, "tally_server.trustees", types.SimpleNamespace(progress=broken)
    )
    page = client.get("/officials/")
    assert page.status_code == 200 and "OSError: trustee_dir unreadable" in page.text


def test_every_officials_post_needs_the_csrf_token(officials_app: Flask) -> None:
    """Whatever POST view the blueprint has (now or later), a logged-in admin without the token
    is refused before the view runs."""
    client = officials_app.test_client()
    assert login(client, "ada") == 302
    posts = [
        rule
        for rule in officials_app.url_map.iter_rules()
        if rule.endpoint.startswith("officials.") and "POST" in (rule.methods or set())
    ]
    assert len(posts) >= 5  # login, logout, deploy, open/close, accounts
    for rule in posts:
        path = rule.rule
        for name in rule.arguments:
            path = re.sub(rf"<(?:[a-z]+:)?{name}>", "1" if name == "official_id" else "open", path)
        answer = client.post(path, data={"password": "x"}, headers={"Accept": "application/json"})
        assert answer.status_code == 400 and answer.json is not None, path
        assert answer.json["error"] == "csrf_token_missing", path
    assert client.get("/officials/").status_code == 200  # nothing happened: still logged in
