"""The registrar's database: the electoral roll, the issuance ledger, single-use challenges
and the append-only audit log. SQLAlchemy; SQLite by default, PostgreSQL supported.

Never stored here: tokens, blinded or not, and ballots (tests/registrar/test_privacy.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Integer,
    String,
    create_engine,
    delete,
    event,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from registrar.eligibility import normalize_address
from registrar.refusals import Refusal


class Base(DeclarativeBase):
    pass


class RollEntry(Base):
    __tablename__ = "roll"
    person_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    date_of_birth: Mapped[dt.date] = mapped_column()
    address: Mapped[str] = mapped_column(String(400))


class Issuance(Base):
    """Person → the certificate and the blinded request their token was issued for. One row per
    person, ever: the primary key is the database's guarantee of one token per person.

    ``blinded_sha256`` is a digest of the blinded value, not of the token: RSA blinding is
    perfectly hiding, so it carries no information about the token (docs/threat-model.md)."""

    __tablename__ = "issuance"
    person_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    certificate_sha256: Mapped[str] = mapped_column(String(64))
    blinded_sha256: Mapped[str] = mapped_column(String(64))
    kiosk_id: Mapped[str] = mapped_column(String(64))
    first_issued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    reissues: Mapped[int] = mapped_column(Integer, default=0)


class Challenge(Base):
    __tablename__ = "challenge"
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    used: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditEntry(Base):
    """Append-only: the application only ever inserts (and the ORM refuses updates/deletes)."""

    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    kiosk_id: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))  # issued | reissued | refused
    code: Mapped[str] = mapped_column(String(40))
    person_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    certificate_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)


@event.listens_for(Session, "before_flush")
def _audit_is_append_only(session: Session, *_: object) -> None:
    for obj in [*session.dirty, *session.deleted]:
        if isinstance(obj, AuditEntry):
            raise PermissionError("the audit log is append-only")


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    # WAL lets readers and the writer work at once; synchronous=NORMAL in WAL mode keeps the
    # database consistent on power loss but may lose the last transactions, which an
    # idempotent re-issue repairs. A real site uses PostgreSQL.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _utc(value: dt.datetime) -> dt.datetime:
    # SQLite returns naive datetimes; everything here is UTC.
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@dataclass
class Ledger:
    engine: Engine
    _sessions: sessionmaker[Session] = field(init=False, repr=False)

    @classmethod
    def open(cls, url: str) -> Ledger:
        kwargs = (
            {"connect_args": {"check_same_thread": False, "timeout": 30}}
            if url.startswith("sqlite")
            else {}
        )
        engine = create_engine(url, pool_pre_ping=True, **kwargs)
        if url.startswith("sqlite"):
            event.listen(engine, "connect", _sqlite_pragmas)
        Base.metadata.create_all(engine)
        ledger = cls(engine)
        ledger._sessions = sessionmaker(engine, expire_on_commit=False)
        return ledger

    def session(self) -> Session:
        return self._sessions()

    # --- challenges ---------------------------------------------------------------------------
    def add_challenge(
        self, nonce: str, kiosk_id: str, expires_at: dt.datetime, now: dt.datetime | None = None
    ) -> None:
        """A new challenge; expired challenges (used or not) are purged at the same time."""
        with self.session() as s, s.begin():
            if now is not None:
                s.execute(delete(Challenge).where(Challenge.expires_at < now))
            s.add(Challenge(nonce=nonce, kiosk_id=kiosk_id, expires_at=expires_at, used=False))

    def challenge_count(self) -> int:
        with self.session() as s:
            return len(s.execute(select(Challenge.nonce)).all())

    def check_challenge(self, nonce: str, kiosk_id: str, now: dt.datetime) -> None:
        """The refusals of :meth:`consume_challenge`, without using the challenge up."""
        with self.session() as s:
            row = s.get(Challenge, nonce)
            if row is None or row.kiosk_id != kiosk_id:
                raise Refusal("bad_challenge")
            if row.used:
                raise Refusal("challenge_reused")
            if now > _utc(row.expires_at):
                raise Refusal("challenge_expired")

    def consume_challenge(self, nonce: str, kiosk_id: str, now: dt.datetime) -> None:
        """Single use, bound to the kiosk, not expired; atomic against concurrent use."""
        with self.session() as s, s.begin():
            row = s.get(Challenge, nonce)
            if row is None or row.kiosk_id != kiosk_id:
                raise Refusal("bad_challenge")
            if row.used:
                raise Refusal("challenge_reused")
            if now > _utc(row.expires_at):
                raise Refusal("challenge_expired")
            done = s.execute(
                update(Challenge)
                .where(Challenge.nonce == nonce, Challenge.used.is_(False))
                .values(used=True)
            )
            if done.rowcount != 1:  # type: ignore[attr-defined]
                raise Refusal("challenge_reused")

    # --- issuance -----------------------------------------------------------------------------
    def record_issuance(
        self, person: str, fingerprint: str, blinded_sha256: str, kiosk_id: str, now: dt.datetime
    ) -> bool:
        """Record that ``person`` gets a token for ``fingerprint`` and the blinded value whose
        digest is ``blinded_sha256``. True for a first issue, False for an idempotent re-issue
        (same certificate, same blinded value: the same blind signature, since RSA signing is
        deterministic). :class:`Refusal` ``different_certificate`` or ``different_request``
        otherwise.

        One transaction inserts the row; the primary key on ``person_key`` makes concurrent
        first requests for one person serialise in the database (PostgreSQL waits for the
        other transaction and then raises a unique violation; SQLite holds one writer), so
        exactly one blinded value is ever recorded for a person."""
        try:
            with self.session() as s, s.begin():
                s.add(
                    Issuance(
                        person_key=person,
                        certificate_sha256=fingerprint,
                        blinded_sha256=blinded_sha256,
                        kiosk_id=kiosk_id,
                        first_issued_at=now,
                        reissues=0,
                    )
                )
            return True
        except IntegrityError:
            pass  # the person is already in the ledger (maybe from a concurrent request)
        with self.session() as s, s.begin():
            row = s.get(Issuance, person, with_for_update=True)
            if row is None:  # pragma: no cover - rows are never deleted
                raise Refusal("bad_request", "ledger race")
            if row.certificate_sha256 != fingerprint:
                raise Refusal("different_certificate", f"first issued at kiosk {row.kiosk_id}")
            if row.blinded_sha256 != blinded_sha256:
                raise Refusal("different_request", f"first issued at kiosk {row.kiosk_id}")
            row.reissues += 1
        return False

    def issuance_count(self) -> int:
        with self.session() as s:
            return len(s.execute(select(Issuance.person_key)).all())

    # --- roll -----------------------------------------------------------------------------------
    def roll_entry(self, person: str) -> RollEntry | None:
        with self.session() as s:
            return s.get(RollEntry, person)

    def import_roll(self, text: str) -> int:
        """CSV with a header: name,date_of_birth,gender,address. Returns rows imported."""
        from registrar.eligibility import person_key_from_fields

        rows = list(csv.DictReader(io.StringIO(text)))
        needed = {"name", "date_of_birth", "gender", "address"}
        if not rows or not needed <= set(rows[0]):
            raise ValueError(f"the roll CSV needs the columns {sorted(needed)}")
        with self.session() as s, s.begin():
            for i, row in enumerate(rows, start=2):
                try:
                    born = dt.date.fromisoformat(row["date_of_birth"])
                except ValueError as exc:
                    raise ValueError(
                        f"line {i}: date_of_birth {row['date_of_birth']!r} is not YYYY-MM-DD"
                    ) from exc
                if row["gender"] not in ("male", "female", "unspecified"):
                    raise ValueError(f"line {i}: gender must be male, female or unspecified")
                key = person_key_from_fields(row["name"], born, row["gender"])
                s.merge(
                    RollEntry(
                        person_key=key,
                        name=row["name"],
                        date_of_birth=born,
                        address=normalize_address(row["address"]),
                    )
                )
        return len(rows)

    # --- audit ------------------------------------------------------------------------------------
    def audit(
        self,
        kiosk_id: str,
        decision: str,
        code: str,
        person: str | None,
        fingerprint: str | None,
        now: dt.datetime,
    ) -> None:
        with self.session() as s, s.begin():
            s.add(
                AuditEntry(
                    at=now,
                    kiosk_id=kiosk_id,
                    decision=decision,
                    code=code,
                    person_key=person,
                    certificate_sha256=fingerprint,
                )
            )
