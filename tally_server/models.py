"""The tally database: an index of the chain, node and kiosk health — never any identity.

Schema changes go through Alembic (``tally_server/migrations``): add a revision on top of the
latest one; ``tests/tally_server/test_migrations.py`` checks that the migrations build exactly
these tables.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class IndexedBatch(Base):
    """One indexer transaction: blocks ``first_block``..``last_block`` taken in together.

    ``last_hash`` is the hash of ``last_block`` when it was read. A reorganisation that replaces
    any block of the batch changes every later block's hash, so re-reading ``last_hash`` tells
    whether the batch is still on the canonical chain."""

    __tablename__ = "indexed_batches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    first_block: Mapped[int] = mapped_column(BigInteger, nullable=False, unique=True)
    last_block: Mapped[int] = mapped_column(BigInteger, nullable=False, unique=True)
    last_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    indexed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class Ballot(Base):
    """A cast ballot (BallotCast + its calldata) and what the core's rules say about it.

    ``check_code`` is the per-ballot verdict of :func:`election.validity.check_cast_ballot`
    (``None``: valid on its own); ``status``/``reason_code`` apply the token and challenge
    rules over all ballots (``counted``, or ``excluded`` with the code)."""

    __tablename__ = "ballots"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    batch_id: Mapped[int] = mapped_column(
        ForeignKey("indexed_batches.id", ondelete="CASCADE"), nullable=False, index=True
    )
    token: Mapped[bytes] = mapped_column(LargeBinary(20), nullable=False, index=True)
    token_signature: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    binding_signature: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    ballot: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    ballot_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False, index=True)
    """Not unique: a copy of an earlier ballot (another token) is stored as duplicate_ballot."""
    tracking_code: Mapped[str] = mapped_column(String(80), nullable=False, index=True)
    check_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    check_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    reason_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    reason_message: Mapped[str | None] = mapped_column(Text, nullable=True)


class CheckedBallot(Base):
    """A checked (Benaloh-challenged) ballot, published with its master nonce."""

    __tablename__ = "checked_ballots"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    batch_id: Mapped[int] = mapped_column(
        ForeignKey("indexed_batches.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kiosk: Mapped[str] = mapped_column(String(42), nullable=False)
    block_number: Mapped[int] = mapped_column(BigInteger, nullable=False)
    ballot: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    ballot_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False, unique=True)
    tracking_code: Mapped[str] = mapped_column(String(80), nullable=False, unique=True)
    master_nonce: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)


class NodeObservation(Base):
    """What one node said when the indexer last asked (its head), for the dashboard."""

    __tablename__ = "node_observations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    observed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    url: Mapped[str] = mapped_column(String(500), nullable=False, index=True)
    ok: Mapped[bool] = mapped_column(Boolean, nullable=False)
    head: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    head_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    peers: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class NodeDisagreement(Base):
    """Two or more nodes named different blocks at the same height (``kind='block_hash'``) or
    had heads further apart than the confirmations allow (``kind='head'``)."""

    __tablename__ = "node_disagreements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    observed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    height: Mapped[int] = mapped_column(BigInteger, nullable=False)
    detail: Mapped[str] = mapped_column(Text, nullable=False)
    """JSON: url → block hash hex (or head number), as each node answered."""
    __table_args__ = (UniqueConstraint("kind", "height", "detail", name="uq_disagreement"),)


class IndexerEvent(Base):
    """The indexer's own log for the dashboard: reorganisations rolled back, errors."""

    __tablename__ = "indexer_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    detail: Mapped[str] = mapped_column(Text, nullable=False)


class KioskHealth(Base):
    """One health report as a kiosk sent it (counters since its process started); the time is
    the server's. No token, name or per-voter time is ever stored."""

    __tablename__ = "kiosk_health"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kiosk_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    reader: Mapped[str] = mapped_column(String(16), nullable=False)
    outbox_depth: Mapped[int] = mapped_column(Integer, nullable=False)
    wrong_pin: Mapped[int] = mapped_column(Integer, nullable=False)
    locked: Mapped[int] = mapped_column(Integer, nullable=False)
    forgotten_pin: Mapped[int] = mapped_column(Integer, nullable=False)
    refused: Mapped[int] = mapped_column(Integer, nullable=False)
    ballots_cast: Mapped[int] = mapped_column(Integer, nullable=False)
    ballots_checked: Mapped[int] = mapped_column(Integer, nullable=False)


# The officials' tables live beside their blueprint; importing them here puts them in Base.
from tally_server.officials import models as _officials_models  # noqa: E402, F401
