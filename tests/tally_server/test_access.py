"""Access is denied by default: every endpoint carries a mark, an unmarked one is refused."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tally_server.access import mark_of, public
from tally_server.app import CSP, create_app
from tally_server.config import TallyConfig


def test_every_registered_endpoint_carries_an_access_mark(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert {"observer.index", "officials.index", "api.kiosk_health", "static"} <= endpoints
    unmarked = sorted(e for e in endpoints if mark_of(app, e) is None)
    assert unmarked == [], f"endpoints without an access mark: {unmarked}"


def test_an_unmarked_endpoint_is_refused(config: TallyConfig) -> None:
    app = create_app(config)

    @app.get("/forgotten")
    def forgotten() -> str:  # no mark: must never be served
        return "secret"

    @app.get("/declared")
    @public
    def declared() -> str:
        return "fine"

    client = app.test_client()
    response = client.get("/forgotten", headers={"Accept": "application/json"})
    assert response.status_code == 403
    assert response.json is not None and response.json["error"] == "access_not_declared"
    assert b"secret" not in response.data
    assert client.get("/declared").data == b"fine"


def test_officials_area_needs_a_login_until_the_dashboard_installs_one(
    client: FlaskClient,
) -> None:
    response = client.get("/officials/", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.json is not None and response.json["error"] == "login_required"


def test_security_headers_on_pages_errors_and_static(client: FlaskClient) -> None:
    for path in ("/", "/no-such-page", "/static/tally.css", "/api/v1/no-such"):
        response = client.get(path)
        assert response.headers["Content-Security-Policy"] == CSP, path
        assert "http" not in CSP  # no outside source at all
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "no-referrer"


def test_unknown_api_path_is_a_named_json_error(client: FlaskClient) -> None:
    response = client.get("/api/v1/no-such")
    assert response.status_code == 404
    assert response.json == {
        "error": "not_found",
        "message_ja": "見つかりません",
        "message_en": "not found",
        "detail": response.json["detail"],
    }
