"""What the dashboard shows, read from the index (``ballots``, ``indexed_batches``), the
indexer's node observations and the kiosks' health reports. Plain data: the views render it
and the JSON endpoint serves it to the page's script."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tally_server.config import TallyConfig
from tally_server.models import (
    Ballot,
    CheckedBallot,
    IndexedBatch,
    IndexerEvent,
    KioskHealth,
    NodeDisagreement,
    NodeObservation,
)
from tally_server.reasons import reason_texts

MAX_POINTS = 240
"""The turnout curve is thinned to at most this many points."""
NODE_STALE = dt.timedelta(seconds=60)
KIOSK_STALE = dt.timedelta(minutes=5)


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def shown(value: dt.datetime) -> str:
    """A time as the pages show it: UTC, to the second."""
    return _utc(value).strftime("%Y-%m-%d %H:%M:%S UTC")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


TURNOUT_CACHE = "officials_turnout"
_turnout_lock = threading.Lock()


def _index_version(factory: sessionmaker[Session]) -> tuple[Any, ...]:
    """Changes whenever the index or a kiosk report changes (a batch added, or rolled back and
    read again: a new ``indexed_at``); cheap (index lookups only)."""
    with factory() as session:
        batches = session.execute(
            select(func.count(), func.max(IndexedBatch.id), func.max(IndexedBatch.indexed_at))
        ).one()
        kiosks = session.scalar(select(func.max(KioskHealth.id)))
    return (*batches, kiosks)


def cached_turnout(cache: dict[str, Any], factory: sessionmaker[Session]) -> dict[str, Any]:
    """:func:`turnout`, computed again only when the index changed: every official's page polls
    it every few seconds, and the index changes at most once per indexer batch."""
    version = _index_version(factory)
    hit = cache.get(TURNOUT_CACHE)
    if isinstance(hit, tuple) and hit[0] == version:
        cached: dict[str, Any] = hit[1]
        return cached
    with _turnout_lock:  # one computation at a time; the others wait and reuse it
        hit = cache.get(TURNOUT_CACHE)
        if isinstance(hit, tuple) and hit[0] == version:
            again: dict[str, Any] = hit[1]
            return again
        value = turnout(factory)
        cache[TURNOUT_CACHE] = (version, value)
        return value


def turnout(factory: sessionmaker[Session]) -> dict[str, Any]:
    """Ballots on the index over time (cumulative, by the time each batch was indexed) and per
    kiosk (as each kiosk last reported its count), with the totals by status."""
    with factory() as session:
        by_status = dict(
            session.execute(select(Ballot.status, func.count()).group_by(Ballot.status)).all()
        )
        # Two scans of indexes, merged here: a join of ballots with batches is ~30 times slower
        # at 200,000 ballots (bench/bench_dashboard.py).
        counts_by_batch = dict(
            session.execute(select(Ballot.batch_id, func.count()).group_by(Ballot.batch_id)).all()
        )
        batches = session.execute(
            select(IndexedBatch.id, IndexedBatch.indexed_at).order_by(IndexedBatch.first_block)
        ).all()
        checked = session.scalar(select(func.count()).select_from(CheckedBallot)) or 0
        indexed_to = session.scalar(select(func.max(IndexedBatch.last_block)))
    points: list[dict[str, Any]] = []
    total = 0
    for batch_id, at in batches:
        n = counts_by_batch.get(batch_id, 0)
        if not n:
            continue
        total += int(n)
        points.append({"t": _utc(at).isoformat(timespec="seconds"), "ballots": total})
    if len(points) > MAX_POINTS:
        step = len(points) / MAX_POINTS
        points = [points[int(i * step)] for i in range(MAX_POINTS - 1)] + [points[-1]]
    kiosks = [
        {"kiosk": k.kiosk, "ballots_cast": k.ballots_cast, "reported_at": k.reported_at}
        for k in kiosk_health(factory, None)
        if k.reported_at is not None
    ]
    return {
        "ballots": sum(int(v) for v in by_status.values()),
        "counted": int(by_status.get("counted", 0)),
        "excluded": int(by_status.get("excluded", 0)),
        "checked": int(checked),
        "indexed_to_block": indexed_to,
        "over_time": points,
        "per_kiosk": kiosks,
    }


@dataclass(frozen=True)
class NodeRow:
    url: str
    ok: bool | None
    """``None``: the indexer has not asked this node yet."""
    head: int | None
    peers: int | None
    lag: int | None
    observed_at: str | None
    stale: bool
    error: str | None
    disagrees: bool = False
    """The node's answer differed from the others' in a recent disagreement (the minority's,
    or every node's when there is no majority)."""


DISAGREEMENT_RECENT = dt.timedelta(minutes=10)


def _odd_ones_out(answers: dict[str, Any]) -> set[str]:
    """The nodes whose answer is not the majority's; all of them if no answer has a majority."""
    tally: dict[str, int] = {}
    for value in answers.values():
        tally[json.dumps(value)] = tally.get(json.dumps(value), 0) + 1
    best = max(tally.values(), default=0)
    winners = [v for v, n in tally.items() if n == best]
    if len(winners) != 1 or best * 2 <= len(answers):
        return set(answers)
    return {url for url, value in answers.items() if json.dumps(value) != winners[0]}


def node_health(factory: sessionmaker[Session], config: TallyConfig) -> list[NodeRow]:
    """Each configured node (and any other the indexer asked) as last observed: head, peers,
    how many blocks it is behind the highest head, and whether the observation is old."""
    with factory() as session:
        latest = (
            select(NodeObservation.url, func.max(NodeObservation.id).label("id"))
            .group_by(NodeObservation.url)
            .subquery()
        )
        rows = list(
            session.scalars(select(NodeObservation).join(latest, NodeObservation.id == latest.c.id))
        )
        last = session.scalar(
            select(NodeDisagreement).order_by(NodeDisagreement.id.desc()).limit(1)
        )
    flagged: set[str] = set()
    if last is not None and _now() - _utc(last.observed_at) <= DISAGREEMENT_RECENT:
        try:
            answers = json.loads(last.detail)
        except ValueError:
            answers = {}
        if isinstance(answers, dict):
            flagged = _odd_ones_out(answers)
    by_url = {row.url: row for row in rows}
    heads = [row.head for row in rows if row.ok and row.head is not None]
    top = max(heads) if heads else None
    out = []
    for url in list(config.rpc_urls) + sorted(set(by_url) - set(config.rpc_urls)):
        row = by_url.get(url)
        if row is None:
            out.append(NodeRow(url, None, None, None, None, None, True, None, url in flagged))
            continue
        at = _utc(row.observed_at)
        out.append(
            NodeRow(
                url,
                row.ok,
                row.head,
                row.peers,
                (top - row.head) if top is not None and row.head is not None else None,
                shown(at),
                _now() - at > NODE_STALE,
                row.error,
                url in flagged,
            )
        )
    return out


@dataclass(frozen=True)
class Disagreement:
    observed_at: str
    kind: str
    height: int
    answers: dict[str, Any]


def disagreements(factory: sessionmaker[Session], limit: int = 50) -> list[Disagreement]:
    with factory() as session:
        rows = list(
            session.scalars(
                select(NodeDisagreement).order_by(NodeDisagreement.id.desc()).limit(limit)
            )
        )
    out = []
    for row in rows:
        try:
            answers = json.loads(row.detail)
        except ValueError:
            answers = {"detail": row.detail}
        out.append(
            Disagreement(
                shown(row.observed_at),
                row.kind,
                row.height,
                answers if isinstance(answers, dict) else {"detail": answers},
            )
        )
    return out


@dataclass(frozen=True)
class KioskRow:
    kiosk: str
    reported_at: str | None
    stale: bool
    reader: str | None
    outbox_depth: int | None
    wrong_pin: int | None
    locked: int | None
    forgotten_pin: int | None
    refused: int | None
    ballots_cast: int | None
    ballots_checked: int | None


def kiosk_health(factory: sessionmaker[Session], config: TallyConfig | None) -> list[KioskRow]:
    """Each kiosk's latest report (configured kiosks that never reported are listed too)."""
    with factory() as session:
        latest = (
            select(KioskHealth.kiosk_id, func.max(KioskHealth.id).label("id"))
            .group_by(KioskHealth.kiosk_id)
            .subquery()
        )
        rows = list(
            session.scalars(select(KioskHealth).join(latest, KioskHealth.id == latest.c.id))
        )
    by_id = {row.kiosk_id: row for row in rows}
    known = set(config.kiosk_secrets) if config is not None else set()
    out = []
    for kiosk in sorted(known | set(by_id)):
        row = by_id.get(kiosk)
        if row is None:
            out.append(KioskRow(kiosk, None, True, *([None] * 8)))
            continue
        at = _utc(row.received_at)
        out.append(
            KioskRow(
                kiosk,
                shown(at),
                _now() - at > KIOSK_STALE,
                row.reader,
                row.outbox_depth,
                row.wrong_pin,
                row.locked,
                row.forgotten_pin,
                row.refused,
                row.ballots_cast,
                row.ballots_checked,
            )
        )
    return out


@dataclass(frozen=True)
class ExcludedRow:
    seq: int
    tracking_code: str
    reason_code: str | None
    reason_message: str | None
    reason_ja: str
    reason_en: str


def excluded_ballots(factory: sessionmaker[Session], limit: int = 200) -> list[ExcludedRow]:
    with factory() as session:
        rows = session.execute(
            select(Ballot.seq, Ballot.tracking_code, Ballot.reason_code, Ballot.reason_message)
            .where(Ballot.status == "excluded")
            .order_by(Ballot.seq.desc())
            .limit(limit)
        ).all()
    return [ExcludedRow(int(s), str(t), rc, rm, *reason_texts(rc or "")) for s, t, rc, rm in rows]


@dataclass(frozen=True)
class EventRow:
    at: str
    kind: str
    detail: str


def indexer_events(factory: sessionmaker[Session], limit: int = 50) -> list[EventRow]:
    with factory() as session:
        rows = list(
            session.scalars(select(IndexerEvent).order_by(IndexerEvent.id.desc()).limit(limit))
        )
    return [EventRow(shown(r.at), r.kind, r.detail) for r in rows]


def alert_counts(factory: sessionmaker[Session], config: TallyConfig) -> dict[str, int]:
    """How many things need an official's eye (shown on every page's navigation)."""
    with factory() as session:
        excluded = session.scalar(
            select(func.count()).select_from(Ballot).where(Ballot.status == "excluded")
        )
        disagreeing = session.scalar(select(func.count()).select_from(NodeDisagreement))
    nodes_down = sum(1 for n in node_health(factory, config) if n.ok is False or n.stale)
    return {
        "excluded": int(excluded or 0),
        "disagreements": int(disagreeing or 0),
        "nodes_down": nodes_down,
    }


def trustee_progress(config: TallyConfig) -> dict[str, Any] | None:
    """The trustee exchange's progress, if that blueprint is installed (else ``None``)."""
    try:
        trustees = importlib.import_module("tally_server.trustees")
    except ImportError:
        return None
    progress = getattr(trustees, "progress", None)
    if not callable(progress):
        return None
    try:
        answer = progress(config)
    except Exception as exc:  # the page must work whatever the trustee part says
        return {"error": f"{type(exc).__name__}: {exc}"}
    return answer if isinstance(answer, dict) else {"progress": answer}
