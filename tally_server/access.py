"""Access denied by default: every endpoint must say who may use it.

A view carries exactly one mark, given by a decorator:

* :func:`public` — anyone (observer pages, the public API, static files);
* :func:`kiosk_auth` — a kiosk with its bearer secret (``KIOSK_SECRETS``); the view gets
  ``g.kiosk_id``;
* :func:`official` ``(role)`` — a logged-in official with that role (the officials' blueprint
  installs the check with :func:`set_official_check`; until then every such request is
  refused with ``login_required``);
* :func:`trustee_signed` — the upload authenticates itself: the view verifies the trustee's
  signature on the body before storing anything.

:func:`enforce` runs before every request: an endpoint without a mark is refused
(``access_not_declared``), so a forgotten decorator fails closed. ``tests/tally_server`` checks
that every registered endpoint carries a mark.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, current_app, g, request

from tally_server.errors import Refusal

F = TypeVar("F", bound=Callable[..., Any])
ATTRIBUTE = "tally_access"
EXTRA_KEY = "tally_access_marks"
OFFICIAL_CHECK_KEY = "tally_official_check"


@dataclass(frozen=True)
class Mark:
    kind: str  # "public" | "kiosk" | "official" | "trustee_signed"
    role: str | None = None


def _mark(mark: Mark) -> Callable[[F], F]:
    def decorate(view: F) -> F:
        if getattr(view, ATTRIBUTE, None) is not None:
            raise TypeError(f"{view.__name__} already carries an access mark")
        setattr(view, ATTRIBUTE, mark)
        return view

    return decorate


def public(view: F) -> F:
    return _mark(Mark("public"))(view)


def kiosk_auth(view: F) -> F:
    return _mark(Mark("kiosk"))(view)


def trustee_signed(view: F) -> F:
    return _mark(Mark("trustee_signed"))(view)


def official(role: str) -> Callable[[F], F]:
    return _mark(Mark("official", role))


def mark_endpoint(app: Flask, endpoint: str, mark: Mark) -> None:
    """Mark an endpoint whose view we do not define (Flask's ``static``)."""
    app.extensions.setdefault(EXTRA_KEY, {})[endpoint] = mark


def mark_of(app: Flask, endpoint: str) -> Mark | None:
    extra: dict[str, Mark] = app.extensions.get(EXTRA_KEY, {})
    if endpoint in extra:
        return extra[endpoint]
    view = app.view_functions.get(endpoint)
    mark = getattr(view, ATTRIBUTE, None)
    return mark if isinstance(mark, Mark) else None


OfficialCheck = Callable[[str], None]
"""Given the role a view needs, return if the current request is a logged-in official with it,
else raise :class:`Refusal` (``login_required`` or ``forbidden``)."""


def set_official_check(app: Flask, check: OfficialCheck) -> None:
    app.extensions[OFFICIAL_CHECK_KEY] = check


def _refuse_officials(role: str) -> None:
    raise Refusal("login_required", "the officials' login is not installed on this server")


def enforce() -> None:
    """``before_request``: refuse unless the endpoint's mark admits this request."""
    endpoint = request.endpoint
    if endpoint is None:
        return  # no route: Flask answers 404 (as a named refusal)
    mark = mark_of(current_app, endpoint)
    if mark is None:
        raise Refusal("access_not_declared", endpoint)
    if mark.kind in ("public", "trustee_signed"):
        return
    if mark.kind == "kiosk":
        g.kiosk_id = authenticate_kiosk()
        return
    if mark.kind == "official":
        check: OfficialCheck = current_app.extensions.get(OFFICIAL_CHECK_KEY, _refuse_officials)
        check(mark.role or "")
        return
    raise Refusal("access_not_declared", endpoint)  # pragma: no cover - unknown kind


def authenticate_kiosk() -> str:
    """The kiosk named in the URL, if the bearer secret hashes to its configured digest."""
    from tally_server.app import tally_config

    kiosk_id = (request.view_args or {}).get("kiosk_id")
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if not isinstance(kiosk_id, str) or scheme.lower() != "bearer" or not secret:
        raise Refusal("bad_kiosk_credentials", "Authorization: Bearer <kiosk secret> is needed")
    expected = tally_config().kiosk_secrets.get(kiosk_id)
    digest = hashlib.sha256(secret.strip().encode()).hexdigest()
    # Compare even for an unknown kiosk, so timing does not tell which ids exist.
    if not hmac.compare_digest(digest, expected or "0" * 64) or expected is None:
        raise Refusal("bad_kiosk_credentials", "unknown kiosk or wrong secret")
    return kiosk_id
