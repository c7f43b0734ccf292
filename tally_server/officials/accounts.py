"""Officials' accounts: scrypt password hashes, roles, and a login rate limit counted in the
database (so every server thread and process shares it)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.security import check_password_hash, generate_password_hash

from tally_server.db import transaction
from tally_server.officials.models import ROLES, LoginAttempt, Official, OfficialAction

USERNAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
WINDOW = dt.timedelta(minutes=15)
"""Failures older than this no longer count."""
KEEP_ATTEMPTS = dt.timedelta(days=30)
"""Attempts older than this are deleted at the next successful login."""
MAX_FAILURES_PER_USERNAME = 5
MAX_FAILURES_PER_CLIENT = 20
HASH_METHOD = "scrypt"
# Checked against when the username is unknown, so the answer takes as long either way.
_DUMMY_HASH = generate_password_hash("not a password of anyone", method=HASH_METHOD)


class AccountError(Exception):
    """A refused account operation; ``code`` names it (the CLI and the views show it)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass(frozen=True)
class OfficialInfo:
    """What a request needs to know about the logged-in official."""

    id: int
    username: str
    role: str


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def role_allows(role: str, needed: str) -> bool:
    """``role`` is at least ``needed`` (viewer < operator < admin); unknown roles allow nothing."""
    if role not in ROLES or needed not in ROLES:
        return False
    return ROLES.index(role) >= ROLES.index(needed)


def check_username(username: str) -> str:
    if not USERNAME.fullmatch(username):
        raise AccountError("bad_username", "1 to 64 characters from A-Z a-z 0-9 . _ -")
    return username


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError("weak_password", f"at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError("bad_password", f"at most {MAX_PASSWORD} characters")
    return password


def add_official(
    factory: sessionmaker[Session], username: str, password: str, role: str
) -> OfficialInfo:
    """Create an account; ``official_exists`` if the username is taken."""
    check_username(username)
    check_password(password)
    if role not in ROLES:
        raise AccountError("bad_role", f"one of {', '.join(ROLES)}")
    hashed = generate_password_hash(password, method=HASH_METHOD)
    try:
        with transaction(factory) as session:
            row = Official(
                username=username,
                password_hash=hashed,
                role=role,
                disabled=False,
                created_at=now(),
            )
            session.add(row)
            session.flush()
            return OfficialInfo(row.id, row.username, row.role)
    except IntegrityError as exc:
        raise AccountError("official_exists", f"{username!r} already has an account") from exc


def set_password(factory: sessionmaker[Session], username: str, password: str) -> None:
    check_password(password)
    with transaction(factory) as session:
        row = session.scalar(select(Official).where(Official.username == username))
        if row is None:
            raise AccountError("unknown_official", f"no account {username!r}")
        row.password_hash = generate_password_hash(password, method=HASH_METHOD)


def set_disabled(factory: sessionmaker[Session], official_id: int, disabled: bool) -> None:
    with transaction(factory) as session:
        row = session.get(Official, official_id)
        if row is None:
            raise AccountError("unknown_official", f"no account #{official_id}")
        row.disabled = disabled


def list_officials(factory: sessionmaker[Session]) -> list[Official]:
    with factory() as session:
        return list(session.scalars(select(Official).order_by(Official.username)))


def active_official(factory: sessionmaker[Session], official_id: int) -> OfficialInfo | None:
    """The account behind a session, if it still exists and is not disabled."""
    with factory() as session:
        row = session.get(Official, official_id)
        if row is None or row.disabled:
            return None
        return OfficialInfo(row.id, row.username, row.role)


def _failures(session: Session, since: dt.datetime, *, username: str | None, client: str) -> int:
    query = (
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.at >= since, LoginAttempt.ok.is_(False))
    )
    if username is not None:
        last_ok = session.scalar(
            select(func.max(LoginAttempt.at)).where(
                LoginAttempt.username == username, LoginAttempt.ok.is_(True)
            )
        )
        if last_ok is not None:
            if last_ok.tzinfo is None:  # SQLite gives naive datetimes back
                last_ok = last_ok.replace(tzinfo=dt.UTC)
            since = max(since, last_ok)
        query = query.where(LoginAttempt.username == username, LoginAttempt.at >= since)
    else:
        query = query.where(LoginAttempt.client == client)
    return int(session.scalar(query) or 0)


def authenticate(
    factory: sessionmaker[Session], username: str, password: str, client: str
) -> OfficialInfo:
    """Check a login; every attempt is recorded. Raises :class:`AccountError` with
    ``too_many_attempts`` (before any password is checked) or ``bad_login``."""
    username = username[:64]
    client = client[:64]
    stamp = now()
    with factory() as session:
        since = stamp - WINDOW
        if (
            _failures(session, since, username=username, client=client) >= MAX_FAILURES_PER_USERNAME
            or _failures(session, since, username=None, client=client) >= MAX_FAILURES_PER_CLIENT
        ):
            raise AccountError("too_many_attempts", "wait before trying again")
        row = session.scalar(select(Official).where(Official.username == username))
        stored = row.password_hash if row is not None else _DUMMY_HASH
        matches = check_password_hash(stored, password[:MAX_PASSWORD])
        ok = row is not None and matches and not row.disabled
    with transaction(factory) as session:
        session.add(LoginAttempt(at=stamp, username=username, client=client, ok=ok))
        if ok and row is not None:
            account = session.get(Official, row.id)
            if account is not None:
                account.last_login_at = stamp
            # Keep a month of attempts (an audit trail); older ones no longer count anyway.
            session.execute(delete(LoginAttempt).where(LoginAttempt.at < stamp - KEEP_ATTEMPTS))
    if not ok or row is None:
        raise AccountError("bad_login", "unknown username, wrong password or disabled account")
    return OfficialInfo(row.id, row.username, row.role)


def record_action(
    factory: sessionmaker[Session], username: str, action: str, ok: bool, detail: str
) -> None:
    """Add to the audit trail (never a password: callers pass codes and addresses)."""
    with transaction(factory) as session:
        session.add(
            OfficialAction(
                at=now(), username=username[:64], action=action[:32], ok=ok, detail=detail[:2000]
            )
        )


def recent_actions(factory: sessionmaker[Session], limit: int = 100) -> list[OfficialAction]:
    with factory() as session:
        return list(
            session.scalars(select(OfficialAction).order_by(OfficialAction.id.desc()).limit(limit))
        )
