"""What the public sees, as plain data: the observer pages and the JSON API both render it.

Everything here reads the index (and, for "on which node", each node itself) and recomputes
with the core what can be recomputed: checked ballots are opened with their revealed nonce
(:func:`election.ballot.open_challenged`), the record is re-verified with
:func:`election.record.verify_record`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contracts.chain import Chain
from contracts.client import BallotBox, Phase
from election.ballot import EncryptedBallot, open_challenged, parse_tracking_code, verify_ballot
from election.errors import ElectionError, EncodingError, InvalidRecord
from election.record import (
    ChainAnchor,
    ChallengedBallot,
    ElectionRecord,
    VerificationReport,
    verify_record,
)
from election.record.verify import CHECKS
from election.tally import DecryptionShare, EncryptedTally, tally_ballots
from election.validity import CastBallot, Exclusion
from tally_server.app import TallyState
from tally_server.election_setup import ElectionSetup, load_setup
from tally_server.errors import Refusal
from tally_server.models import (
    Ballot,
    CheckedBallot,
    IndexedBatch,
    IndexerEvent,
    NodeDisagreement,
    NodeObservation,
)
from tally_server.reasons import reason_texts

MAX_PER_PAGE = 500
PENDING_RESULT_SECONDS = 10.0
"""How long a verification without the trustees' result stays current (the result may come)."""
STATUSES = ("counted", "excluded")

DecryptionProvider = Callable[
    [EncryptedTally], tuple[tuple[DecryptionShare, ...], tuple[tuple[int, ...], ...] | None]
]
"""Given the encrypted tally, the trustees' verified decryption shares and the result (or
``None`` while the decryption is not complete). Installed by the trustee exchange as
``app.extensions["tally_decryption"]``."""


def setup_of(st: TallyState) -> ElectionSetup:
    cached = st.cache.get("setup")
    if isinstance(cached, ElectionSetup):
        return cached
    if st.config.election_file is None:
        raise Refusal("election_not_configured", "election_file is not set")
    try:
        setup = load_setup(st.config.election_file)
    except ElectionError as exc:
        raise Refusal("election_not_configured", str(exc)) from exc
    st.cache["setup"] = setup
    return setup


def parse_code(code: str) -> bytes:
    if len(code) > 200:
        raise Refusal("bad_tracking_code", "longer than any tracking code")
    try:
        return parse_tracking_code(code)
    except EncodingError as exc:
        raise Refusal("bad_tracking_code", str(exc)) from exc


def single(args: Any, name: str) -> str | None:
    """A query parameter given at most once and not empty (else ``bad_parameter``)."""
    values = args.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise Refusal("bad_parameter", f"{name}: given more than once")
    if values[0] == "":
        raise Refusal("bad_parameter", f"{name}: empty")
    return str(values[0])


def page_args(args: Any, default_per_page: int) -> tuple[int, int]:
    def number(name: str, default: int, high: int) -> int:
        raw = single(args, name)
        if raw is None:
            return default
        if not raw.isascii() or not raw.isdigit() or len(raw) > 10:
            raise Refusal("bad_parameter", f"{name}: must be a whole number")
        value = int(raw)
        if not 1 <= value <= high:
            raise Refusal("bad_parameter", f"{name}: must be between 1 and {high}")
        return value

    return number("page", 1, 10**9), number("per_page", default_per_page, MAX_PER_PAGE)


def _names(setup: ElectionSetup) -> dict[str, Any]:
    m = setup.context.manifest
    return {
        "id": m.election_id_label,
        "name": {"ja": m.name_ja, "en": m.name_en},
        "date": m.election_date.isoformat(),
        "municipality": {"ja": m.municipality_ja, "en": m.municipality_en},
        "contests": [
            {
                "id": c.id,
                "title": {"ja": c.title_ja, "en": c.title_en},
                "min": c.min_selections,
                "max": c.max_selections,
                "options": [
                    {"id": o.id, "name": {"ja": o.name_ja, "en": o.name_en}} for o in c.options
                ],
            }
            for c in m.contests
        ],
    }


def election_summary(st: TallyState, session: Session) -> dict[str, Any]:
    setup = setup_of(st)
    by_status = dict(
        session.execute(select(Ballot.status, func.count()).group_by(Ballot.status)).all()
    )
    return {
        "election": _names(setup),
        "election_id": setup.context.election_id.hex(),
        "chain_id": setup.context.chain_id,
        "contract": setup.contract_hex,
        "first_block": setup.first_block,
        "indexed_to_block": session.scalar(select(func.max(IndexedBatch.last_block))),
        "confirmations": st.config.confirmations,
        "ballots": sum(by_status.values()),
        "counted": by_status.get("counted", 0),
        "excluded": by_status.get("excluded", 0),
        "checked": session.scalar(select(func.count()).select_from(CheckedBallot)) or 0,
        "nodes": list(st.config.rpc_urls),
    }


def _ballot_item(row: Ballot) -> dict[str, Any]:
    item: dict[str, Any] = {
        "seq": row.seq,
        "tracking_code": row.tracking_code,
        "ballot_hash": row.ballot_hash.hex(),
        "status": row.status,
        "reason": None,
    }
    if row.reason_code is not None:
        ja, en = reason_texts(row.reason_code)
        item["reason"] = {
            "code": row.reason_code,
            "message_ja": ja,
            "message_en": en,
            "detail": row.reason_message or "",
        }
    return item


def ballots_page(
    session: Session, page: int, per_page: int, status: str | None = None
) -> dict[str, Any]:
    if status is not None and status not in STATUSES:
        raise Refusal("bad_parameter", f"status: must be one of {', '.join(STATUSES)}")
    query = select(Ballot)
    total_q = select(func.count()).select_from(Ballot)
    if status is not None:
        query = query.where(Ballot.status == status)
        total_q = total_q.where(Ballot.status == status)
    rows = session.scalars(query.order_by(Ballot.seq).offset((page - 1) * per_page).limit(per_page))
    return {
        "page": page,
        "per_page": per_page,
        "total": session.scalar(total_q) or 0,
        "items": [_ballot_item(r) for r in rows],
    }


def checked_page(session: Session, page: int, per_page: int) -> dict[str, Any]:
    rows = session.scalars(
        select(CheckedBallot)
        .order_by(CheckedBallot.seq)
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return {
        "page": page,
        "per_page": per_page,
        "total": session.scalar(select(func.count()).select_from(CheckedBallot)) or 0,
        "items": [
            {
                "seq": r.seq,
                "tracking_code": r.tracking_code,
                "ballot_hash": r.ballot_hash.hex(),
                "block_number": r.block_number,
            }
            for r in rows
        ],
    }


# --- one ballot, on every node ------------------------------------------------------------------
def _node_boxes(st: TallyState, setup: ElectionSetup) -> list[tuple[str, BallotBox | None]]:
    """One client per configured node (a node that does not answer now: ``None``)."""
    out: list[tuple[str, BallotBox | None]] = []
    boxes: dict[str, BallotBox] = st.cache.setdefault("node_boxes", {})
    for url in st.config.rpc_urls:
        box = boxes.get(url)
        if box is None:
            try:
                box = BallotBox(
                    Chain.connect([url], timeout=min(st.config.rpc_timeout_seconds, 3.0)),
                    setup.context.contract_address,
                )
            except Exception:
                out.append((url, None))
                continue
            boxes[url] = box
        out.append((url, box))
    return out


def _on_nodes(
    st: TallyState, setup: ElectionSetup, ask: Callable[[BallotBox], bool]
) -> list[dict[str, Any]]:
    rows = []
    for url, box in _node_boxes(st, setup):
        if box is None:
            rows.append({"url": url, "state": "unreachable"})
            continue
        try:
            rows.append({"url": url, "state": "present" if ask(box) else "absent"})
        except Exception as exc:  # a node down or without the contract: say so, do not fail
            rows.append({"url": url, "state": "unreachable", "detail": type(exc).__name__})
    return rows


def ballot_detail(st: TallyState, session: Session, code: str) -> dict[str, Any]:
    setup = setup_of(st)
    digest = parse_code(code)
    # the first cast of this ballot (a later copy under another token is duplicate_ballot)
    row = session.scalar(
        select(Ballot).where(Ballot.ballot_hash == digest).order_by(Ballot.seq).limit(1)
    )
    if row is None:
        raise Refusal("ballot_not_found", code)
    later = set(
        session.scalars(
            select(Ballot.ballot_hash).where(Ballot.token == row.token, Ballot.seq > row.seq)
        )
    )

    def present(box: BallotBox) -> bool:
        # The contract keeps each token's latest ballot: this one, or one that replaced it.
        current = box.ballot_of(row.token)
        return current is not None and (current == digest or current in later)

    item = _ballot_item(row)
    item["token"] = "0x" + row.token.hex()
    item["nodes"] = _on_nodes(st, setup, present)
    return item


def checked_detail(st: TallyState, session: Session, code: str) -> dict[str, Any]:
    setup = setup_of(st)
    ctx = setup.context
    digest = parse_code(code)
    row = session.scalar(select(CheckedBallot).where(CheckedBallot.ballot_hash == digest))
    if row is None:
        raise Refusal("checked_ballot_not_found", code)
    opened: dict[str, Any]
    try:
        ballot = EncryptedBallot.from_bytes(row.ballot, ctx.manifest)
        verify_ballot(ctx, ballot)
        plain = open_challenged(ctx, ballot, row.master_nonce)
        opened = {
            "ok": True,
            "error": None,
            "contests": [
                {
                    "id": contest.id,
                    "title": {"ja": contest.title_ja, "en": contest.title_en},
                    "chosen": [
                        {"id": o.id, "name": {"ja": o.name_ja, "en": o.name_en}}
                        for o, m in zip(contest.options, selections, strict=True)
                        if m
                    ],
                }
                for contest, selections in zip(ctx.manifest.contests, plain.selections, strict=True)
            ],
        }
    except ElectionError as exc:
        opened = {"ok": False, "error": str(exc), "contests": []}
    block = row.block_number

    def present(box: BallotBox) -> bool:
        return any(c.ballot_hash == digest for c in box.challenged_ballots(block, block))

    return {
        "seq": row.seq,
        "tracking_code": row.tracking_code,
        "ballot_hash": row.ballot_hash.hex(),
        "block_number": block,
        "master_nonce": row.master_nonce.hex(),
        "opened": opened,
        "nodes": _on_nodes(st, setup, present),
    }


# --- the record and its verification --------------------------------------------------------------
@dataclass(frozen=True)
class Verified:
    record: ElectionRecord
    checks: list[dict[str, Any]]
    result: tuple[tuple[int, ...], ...] | None


@dataclass(frozen=True)
class Verification:
    """The latest completed verification (``None`` before the first), and whether it covers
    the index as it is now (else a newer one is running in the background)."""

    done: Verified | None
    current: bool


_verify_lock = threading.Lock()

SYNC_VERIFY_BALLOTS = 2000
"""Up to this many ballots a page verifies the record while it waits (a few seconds); above,
the verification runs in a background thread and pages show the latest completed one."""


def indexed_record(
    st: TallyState, session: Session, provider: DecryptionProvider | None = None
) -> ElectionRecord:
    """The election record as far as it is indexed: ballots, checked ballots, exclusions,
    the encrypted tally of the counted ballots, and the decryption when the trustees gave it."""
    setup = setup_of(st)
    ctx = setup.context
    rows = list(session.scalars(select(Ballot).order_by(Ballot.seq)))
    checked = list(session.scalars(select(CheckedBallot).order_by(CheckedBallot.seq)))
    last = session.scalar(select(func.max(IndexedBatch.last_block)))
    casts = tuple(
        CastBallot(r.seq, r.token, r.token_signature, r.binding_signature, r.ballot) for r in rows
    )
    excluded = tuple(
        Exclusion(r.seq, r.ballot_hash, r.reason_code or "", r.reason_message or "")
        for r in rows
        if r.status == "excluded"
    )
    counted = [
        EncryptedBallot.from_bytes(r.ballot, ctx.manifest) for r in rows if r.status == "counted"
    ]
    tally = tally_ballots(ctx, counted)
    shares: tuple[DecryptionShare, ...] = ()
    result = None
    if provider is not None:
        shares, result = provider(tally)
    last_block = setup.first_block if last is None else int(last)
    if result is not None:
        # Decrypted: the election is closed and the record final. It ends at the block that
        # closed the election, as the record the officials assemble and publish on chain does
        # (ippyo trustee record), so this download is byte for byte the published file.
        closing = _closing_block(st, setup)
        if closing is not None and last_block >= closing:
            last_block = closing
    anchor = ChainAnchor(len(rows), len(checked), setup.first_block, last_block)
    return setup.record(
        casts,
        anchor,
        tuple(ChallengedBallot(c.seq, c.ballot, c.master_nonce) for c in checked),
        excluded,
        tally,
        shares,
        result,
    )


CLOSING_BLOCK = "closing_block"


def _closing_block(st: TallyState, setup: ElectionSetup) -> int | None:
    """The block of the contract's one PhaseChanged(closed) event, asked of the first node
    that answers and kept once known; ``None`` while no node can say."""
    known = st.cache.get(CLOSING_BLOCK)
    if isinstance(known, int):
        return known
    for _url, box in _node_boxes(st, setup):
        if box is None:
            continue
        try:
            closed = [
                b for phase, b in box.phase_changes(setup.first_block) if phase == Phase.CLOSED
            ]
        except Exception:  # a node down: ask the next one
            continue
        if len(closed) != 1:
            return None
        st.cache[CLOSING_BLOCK] = closed[0]
        return closed[0]
    return None


def _index_key(session: Session) -> tuple[Any, ...]:
    return (
        session.scalar(select(func.max(IndexedBatch.id))),
        session.scalar(select(func.count()).select_from(IndexedBatch)),
        session.scalar(select(func.max(IndexerEvent.id))),
    )


def _verify_now(st: TallyState, session: Session, provider: DecryptionProvider | None) -> Verified:
    record = indexed_record(st, session, provider)
    try:
        report = verify_record(record)
    except InvalidRecord as exc:
        if not isinstance(exc.report, VerificationReport):
            raise
        report = exc.report
    decrypted = record.result is not None
    checks = []
    for c in report.checks:
        pending = not decrypted and c.name == "result"
        checks.append(
            {
                "name": c.name,
                "status": "pending" if pending else ("ok" if c.ok else "fail"),
                "count": c.count,
                "failures": [] if pending else list(c.failures),
            }
        )
    return Verified(record, checks, record.result)


def verified(
    st: TallyState, session: Session, provider: DecryptionProvider | None = None
) -> Verification:
    """The record re-verified with the core; cached until the index or the result changes."""
    key = _index_key(session)

    def fresh(entry: Any) -> bool:
        # The record changes with the index, and, while the trustees' decryption is not
        # complete, when it completes: an undecrypted verification is re-done at most every
        # PENDING_RESULT_SECONDS; a decrypted one is final for its index.
        if entry is None or entry[0][0] != key or entry[0][2] is not provider:
            return False
        if provider is None or entry[1].result is not None:
            return True
        return bool(time.monotonic() - entry[0][1] < PENDING_RESULT_SECONDS)

    with _verify_lock:
        cached: tuple[Any, Verified] | None = st.cache.get("verified")
        if cached is not None and fresh(cached):
            return Verification(cached[1], True)
        ballots = session.scalar(select(func.count()).select_from(Ballot)) or 0
        if ballots <= SYNC_VERIFY_BALLOTS:
            out = _verify_now(st, session, provider)
            st.cache["verified"] = ((key, time.monotonic(), provider), out)
            return Verification(out, True)
        running = st.cache.get("verifying")
        if not (isinstance(running, threading.Thread) and running.is_alive()):
            thread = threading.Thread(
                target=_verify_in_background, args=(st, provider), daemon=True
            )
            st.cache["verifying"] = thread
            thread.start()
        return Verification(cached[1] if cached is not None else None, False)


def _verify_in_background(st: TallyState, provider: DecryptionProvider | None) -> None:
    with st.sessions() as session:
        key = _index_key(session)
        started = time.monotonic()
        out = _verify_now(st, session, provider)
    with _verify_lock:
        st.cache["verified"] = ((key, started, provider), out)


def result_view(st: TallyState, verification: Verification) -> dict[str, Any]:
    setup = setup_of(st)
    v = verification.done
    contests: list[dict[str, Any]] = []
    if v is not None and v.result is not None:
        for contest, row in zip(setup.context.manifest.contests, v.result, strict=True):
            contests.append(
                {
                    "id": contest.id,
                    "title": {"ja": contest.title_ja, "en": contest.title_en},
                    "options": [
                        {"id": o.id, "name": {"ja": o.name_ja, "en": o.name_en}, "count": n}
                        for o, n in zip(contest.options, row, strict=True)
                    ],
                }
            )
    checks = v.checks if v is not None else []
    tally = v.record.encrypted_tally if v is not None else None
    return {
        "decrypted": v is not None and v.result is not None,
        "verified": bool(checks) and all(c["status"] == "ok" for c in checks),
        "current": verification.current,
        "verified_to_block": v.record.anchor.last_block if v is not None else None,
        "counted": tally.ballot_count if tally is not None else 0,
        "result": contests if v is not None and v.result is not None else None,
        "checks": checks,
        "check_names": list(CHECKS),
    }


# --- nodes --------------------------------------------------------------------------------------
def nodes_view(st: TallyState, session: Session) -> dict[str, Any]:
    latest: dict[str, Any] = {}
    for url in st.config.rpc_urls:
        obs = session.scalar(
            select(NodeObservation)
            .where(NodeObservation.url == url)
            .order_by(NodeObservation.id.desc())
            .limit(1)
        )
        latest[url] = (
            None
            if obs is None
            else {
                "observed_at": obs.observed_at.isoformat(),
                "ok": obs.ok,
                "head": obs.head,
                "head_hash": obs.head_hash.hex() if obs.head_hash else None,
                "peers": obs.peers,
                "error": obs.error,
            }
        )
    disagreements = session.scalars(
        select(NodeDisagreement).order_by(NodeDisagreement.id.desc()).limit(100)
    )
    return {
        "nodes": [{"url": url, "latest": latest[url]} for url in st.config.rpc_urls],
        "disagreements": [
            {
                "observed_at": d.observed_at.isoformat(),
                "kind": d.kind,
                "height": d.height,
                "detail": d.detail,
            }
            for d in disagreements
        ],
    }
