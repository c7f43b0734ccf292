"""``ippyo tally index``: follow the BallotBox on the configured nodes into the database.

* **After k confirmations** — only blocks at least ``confirmations`` below the head are read.
* **One transaction per batch** — the ballots and checked ballots of blocks ``a..b`` and the
  batch row (with the hash of block ``b``) commit together; the cursor is the last committed
  batch. A crash (even SIGKILL) loses at most the batch in flight, which is read again.
* **Idempotent** — ``seq`` and ``ballot_hash`` are unique, and the batch's first block too: a
  batch committed twice (two indexers, a retry) is refused by the database and skipped.
* **Reorg-safe** — before each step the newest batches' stored block hashes are compared with
  the chain; every batch from the first that no longer matches is deleted with its ballots
  (cascade) and read again from the canonical chain. A reorganisation that replaces any block
  changes the hash of every later block, so checking the newest batch first is enough.
* **Validated with the core's rules** — each ballot through
  :func:`election.validity.check_cast_ballot`; the token and challenge rules of
  :func:`election.validity.select_ballots` are applied per token over the stored verdicts
  (:func:`apply_token_rules`); excluded ballots keep the code and a published reason.
* **Nodes compared** — every step asks each node for its head and, at the last indexed height,
  its block hash; different hashes at one height, or heads further apart than the
  confirmations, are recorded (``node_disagreements``) for the dashboard.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import multiprocessing
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3
from web3.exceptions import BlockNotFound

from contracts.chain import Chain, ChainError
from contracts.client import BallotBox
from election.ballot import tracking_code
from election.errors import InvalidBallot
from election.validity import CHALLENGED, DUPLICATE_TOKEN, SUPERSEDED, CastBallot, check_cast_ballot
from tally_server.db import transaction
from tally_server.election_setup import ElectionSetup, setup_from_json
from tally_server.models import (
    Ballot,
    CheckedBallot,
    IndexedBatch,
    IndexerEvent,
    NodeDisagreement,
    NodeObservation,
)

log = logging.getLogger("ippyo.tally.indexer")

COUNTED, EXCLUDED = "counted", "excluded"


class IndexerError(Exception):
    """The indexer cannot go on (wrong contract, unreadable setup); ``code`` names it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Verdict:
    """What the core says about one cast ballot on its own."""

    cast: CastBallot
    code: str | None
    message: str | None


def judge(setup: ElectionSetup, cast: CastBallot) -> Verdict:
    try:
        check_cast_ballot(setup.context, cast)
    except InvalidBallot as exc:
        code, _, message = str(exc).partition(": ")
        return Verdict(cast, code, message)
    return Verdict(cast, None, None)


_worker_setup: ElectionSetup | None = None


def _worker_init(setup_json: bytes) -> None:
    global _worker_setup
    _worker_setup = setup_from_json(setup_json)


def _worker_judge(casts: list[CastBallot]) -> list[tuple[str | None, str | None]]:
    assert _worker_setup is not None
    return [(v.code, v.message) for v in (judge(_worker_setup, c) for c in casts)]


class ParallelJudge:
    """Check ballots on several cores (each worker parses the setup once); the verdicts come
    back in order. Use as ``Indexer(..., judge_many=ParallelJudge(setup, workers))``."""

    def __init__(self, setup: ElectionSetup, workers: int) -> None:
        self.workers = workers
        self.pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init,
            initargs=(setup.to_json(),),
        )

    def __call__(self, setup: ElectionSetup, casts: list[CastBallot]) -> list[Verdict]:
        if len(casts) < 2 * self.workers:
            return [judge(setup, c) for c in casts]
        size = -(-len(casts) // (self.workers * 4))
        chunks = [casts[i : i + size] for i in range(0, len(casts), size)]
        out: list[Verdict] = []
        for chunk, verdicts in zip(chunks, self.pool.map(_worker_judge, chunks), strict=True):
            out += [Verdict(c, code, msg) for c, (code, msg) in zip(chunk, verdicts, strict=True)]
        return out

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


def apply_token_rules(session: Session, setup: ElectionSetup, tokens: Iterable[bytes]) -> None:
    """Set ``status`` of every ballot of these tokens: the rules of ``select_ballots``.

    A ballot whose hash is a checked ballot's is ``challenged``; one invalid on its own keeps
    its code; among a token's valid ballots the first counts (or the latest, when re-voting
    is allowed) and the others are ``duplicate_token`` (``superseded``)."""
    revote = setup.context.revote_allowed
    wanted = sorted(set(tokens))
    by_token: dict[bytes, list[Ballot]] = {}
    for i in range(0, len(wanted), 500):  # a bounded IN list per query
        for row in session.scalars(
            select(Ballot).where(Ballot.token.in_(wanted[i : i + 500])).order_by(Ballot.seq)
        ):
            by_token.setdefault(row.token, []).append(row)
    hashes = [r.ballot_hash for rows in by_token.values() for r in rows]
    checked: set[bytes] = set()
    for i in range(0, len(hashes), 500):
        checked |= set(
            session.scalars(
                select(CheckedBallot.ballot_hash).where(
                    CheckedBallot.ballot_hash.in_(hashes[i : i + 500])
                )
            )
        )
    for rows_list in by_token.values():
        valid = []
        for row in rows_list:
            if row.ballot_hash in checked:
                _exclude(row, CHALLENGED, "a checked ballot's hash: its nonce is public")
            elif row.check_code is not None:
                _exclude(row, row.check_code, row.check_message or "")
            else:
                valid.append(row)
        chosen = valid[-1] if (revote and valid) else (valid[0] if valid else None)
        for row in valid:
            if row is chosen:
                row.status, row.reason_code, row.reason_message = COUNTED, None, None
            elif revote:
                _exclude(row, SUPERSEDED, "replaced by a later valid ballot with the same token")
            else:
                _exclude(row, DUPLICATE_TOKEN, "a second ballot with an already used token")


def _exclude(row: Ballot, code: str, message: str) -> None:
    row.status, row.reason_code, row.reason_message = EXCLUDED, code, message


def _block_hash(w3: Web3, number: int) -> bytes | None:
    try:
        return bytes(w3.eth.get_block(number)["hash"])
    except BlockNotFound:
        return None


class Indexer:
    def __init__(
        self,
        setup: ElectionSetup,
        chain: Chain,
        factory: sessionmaker[Session],
        *,
        confirmations: int,
        batch_blocks: int = 200,
        judge_many: Callable[[ElectionSetup, list[CastBallot]], list[Verdict]] | None = None,
    ) -> None:
        self.setup = setup
        self.chain = chain
        self.sessions = factory
        self.confirmations = confirmations
        self.batch_blocks = batch_blocks
        self.box = BallotBox(chain, setup.context.contract_address)
        self._judge_many = judge_many or (lambda s, casts: [judge(s, c) for c in casts])
        self._last_observed = 0.0

    # --- start ------------------------------------------------------------------------------
    def check_contract(self) -> None:
        """Refuse to index a contract that is not this election's."""
        try:
            election_id, base_hash = self.box.election_id(), self.box.base_hash()
        except ChainError:
            raise
        except Exception as exc:
            raise IndexerError(
                "contract_not_found",
                f"no BallotBox answers at {self.setup.contract_hex}: {type(exc).__name__}",
            ) from exc
        if (
            election_id != self.setup.context.election_id
            or base_hash != self.setup.context.base_hash
        ):
            raise IndexerError(
                "wrong_contract",
                f"the contract at {self.setup.contract_hex} belongs to another election "
                "(its election id or base hash differs from the setup's)",
            )

    # --- one step ---------------------------------------------------------------------------
    def cursor(self, session: Session) -> int:
        last = session.scalar(select(func.max(IndexedBatch.last_block)))
        return self.setup.first_block if last is None else int(last) + 1

    def step(self) -> int:
        """Roll back what a reorganisation removed, then index one batch. Returns the number
        of blocks taken in (0: caught up)."""
        self.rollback_reorganised()
        head = self.chain.call(lambda w3: int(w3.eth.block_number))
        safe = head - self.confirmations
        with self.sessions() as session:
            start = self.cursor(session)
        if start > safe:
            return 0
        return self.index_range(start, min(safe, start + self.batch_blocks - 1))

    def index_range(self, start: int, end: int) -> int:
        """Read blocks ``start..end`` and commit them as one batch; 0 if they (or any of their
        ballots) are indexed already, or if the chain moved while reading."""
        end_hash = self.chain.call(lambda w3: _block_hash(w3, end))
        casts = self.box.cast_ballots(start, end)
        challenged = self.box.challenged_ballots(start, end)
        if end_hash is None or self.chain.call(lambda w3: _block_hash(w3, end)) != end_hash:
            return 0  # the chain moved under us: read this range again
        verdicts = self._judge_many(self.setup, casts)
        try:
            with transaction(self.sessions) as session:
                batch = IndexedBatch(
                    first_block=start, last_block=end, last_hash=end_hash, indexed_at=now()
                )
                session.add(batch)
                session.flush()
                for c in challenged:
                    session.add(
                        CheckedBallot(
                            seq=c.seq,
                            batch_id=batch.id,
                            kiosk=c.kiosk,
                            block_number=c.block_number,
                            ballot=c.ballot,
                            ballot_hash=c.ballot_hash,
                            tracking_code=tracking_code(c.ballot_hash),
                            master_nonce=c.master_nonce,
                        )
                    )
                for v in verdicts:
                    session.add(
                        Ballot(
                            seq=v.cast.seq,
                            batch_id=batch.id,
                            token=v.cast.token,
                            token_signature=v.cast.token_signature,
                            binding_signature=v.cast.binding_signature,
                            ballot=v.cast.ballot,
                            ballot_hash=v.cast.ballot_hash,
                            tracking_code=tracking_code(v.cast.ballot_hash),
                            check_code=v.code,
                            check_message=v.message,
                            status=COUNTED if v.code is None else EXCLUDED,
                        )
                    )
                session.flush()
                touched = {v.cast.token for v in verdicts}
                if challenged:
                    hashes = [c.ballot_hash for c in challenged]
                    touched |= set(
                        session.scalars(select(Ballot.token).where(Ballot.ballot_hash.in_(hashes)))
                    )
                apply_token_rules(session, self.setup, touched)
        except IntegrityError:
            # Another indexer (or an earlier attempt) committed these blocks: nothing to add.
            log.info("blocks %d-%d already indexed; skipped", start, end)
            return 0
        log.info(
            "indexed blocks %d-%d: %d ballots, %d checked", start, end, len(casts), len(challenged)
        )
        return end - start + 1

    def rollback_reorganised(self) -> int:
        """Delete every batch whose last block is no longer the chain's; returns how many."""
        with self.sessions() as session:
            batches = list(
                session.execute(
                    select(
                        IndexedBatch.id, IndexedBatch.last_block, IndexedBatch.last_hash
                    ).order_by(IndexedBatch.last_block.desc())
                )
            )
        stale: list[tuple[int, int]] = []
        for batch_id, last_block, last_hash in batches:
            current = self.chain.call(partial(_block_hash, number=int(last_block)))
            if current == last_hash:
                break
            stale.append((batch_id, last_block))
        if not stale:
            return 0
        ids = [b for b, _ in stale]
        with transaction(self.sessions) as session:
            touched = set(session.scalars(select(Ballot.token).where(Ballot.batch_id.in_(ids))))
            dropped = session.scalar(
                select(func.count()).select_from(Ballot).where(Ballot.batch_id.in_(ids))
            )
            session.execute(delete(Ballot).where(Ballot.batch_id.in_(ids)))
            session.execute(delete(CheckedBallot).where(CheckedBallot.batch_id.in_(ids)))
            session.execute(delete(IndexedBatch).where(IndexedBatch.id.in_(ids)))
            apply_token_rules(session, self.setup, touched)
            first = min(n for _, n in stale)
            session.add(
                IndexerEvent(
                    at=now(),
                    kind="reorg",
                    detail=json.dumps(
                        {
                            "batches": len(ids),
                            "ballots_removed": dropped,
                            "from_block_at_most": first,
                        }
                    ),
                )
            )
        log.warning("reorganisation: rolled back %d batches (%s ballots)", len(ids), dropped)
        return len(ids)

    # --- nodes ------------------------------------------------------------------------------
    def observe_nodes(self) -> None:
        """Each node's head; disagreements on block hashes or heads, stored for the dashboard."""
        with self.sessions() as session:
            indexed = session.scalar(select(func.max(IndexedBatch.last_block)))

        def look(w3: Web3) -> tuple[int, bytes | None, int | None, bytes | None]:
            head = int(w3.eth.block_number)
            head_hash = _block_hash(w3, head)
            at = _block_hash(w3, int(indexed)) if indexed is not None else None
            try:
                peers: int | None = int(w3.net.peer_count)
            except Exception:  # some nodes do not serve net_*; a head is still a head
                peers = None
            return head, head_hash, peers, at

        answers = self.chain.each(look)
        stamp = now()
        heads: dict[str, int] = {}
        at_indexed: dict[str, str] = {}
        with transaction(self.sessions) as session:
            for url, answer in answers.items():
                if isinstance(answer, Exception):
                    session.add(
                        NodeObservation(observed_at=stamp, url=url, ok=False, error=str(answer))
                    )
                    continue
                head, head_hash, peers, at = answer
                heads[url] = head
                if at is not None:
                    at_indexed[url] = at.hex()
                session.add(
                    NodeObservation(
                        observed_at=stamp,
                        url=url,
                        ok=True,
                        head=head,
                        head_hash=head_hash,
                        peers=peers,
                    )
                )
            disagreements: list[tuple[str, int, dict[str, Any]]] = []
            if indexed is not None and len(set(at_indexed.values())) > 1:
                disagreements.append(("block_hash", int(indexed), at_indexed))
            if heads and max(heads.values()) - min(heads.values()) > max(self.confirmations, 2):
                disagreements.append(("head", max(heads.values()), heads))
            for kind, height, detail in disagreements:
                text = json.dumps(detail, sort_keys=True)
                exists = session.scalar(
                    select(NodeDisagreement.id).where(
                        NodeDisagreement.kind == kind,
                        NodeDisagreement.height == height,
                        NodeDisagreement.detail == text,
                    )
                )
                if exists is None:
                    log.warning("nodes disagree (%s at %d): %s", kind, height, text)
                    session.add(
                        NodeDisagreement(observed_at=stamp, kind=kind, height=height, detail=text)
                    )

    # --- the loop ---------------------------------------------------------------------------
    def run(
        self,
        *,
        poll_seconds: float,
        observe_seconds: float = 5.0,
        stop: Callable[[], bool] = lambda: False,
        once: bool = False,
    ) -> None:
        """Index until ``stop()`` (or, with ``once``, until caught up)."""
        while not stop():
            try:
                taken = self.step()
                if time.monotonic() - self._last_observed >= observe_seconds or (
                    once and not taken
                ):
                    self._last_observed = time.monotonic()
                    self.observe_nodes()
            except ChainError as exc:
                log.warning("chain unavailable: %s", exc)
                self._event("chain_error", str(exc))
                taken = 0
            except Exception as exc:
                # A node's RPC error, a database restart...: log it, say so on the dashboard,
                # and try again (the batch in flight was rolled back). In --once mode, stop.
                if once:
                    raise
                log.exception("indexing step failed; retrying")
                try:
                    self._event("error", f"{type(exc).__name__}: {exc}")
                except Exception:
                    log.exception("cannot record the error either")
                taken = 0
            if taken:
                continue
            if once:
                return
            time.sleep(poll_seconds)

    def _event(self, kind: str, detail: str) -> None:
        with transaction(self.sessions) as session:
            session.add(IndexerEvent(at=now(), kind=kind, detail=detail[:4000]))


def counts(factory: sessionmaker[Session]) -> dict[str, Any]:
    """What the index holds (for tests, the CLI and the pages)."""
    with factory() as session:
        by_status = dict(
            session.execute(select(Ballot.status, func.count()).group_by(Ballot.status)).all()
        )
        return {
            "ballots": sum(by_status.values()),
            "counted": by_status.get(COUNTED, 0),
            "excluded": by_status.get(EXCLUDED, 0),
            "checked": session.scalar(select(func.count()).select_from(CheckedBallot)) or 0,
            "indexed_to_block": session.scalar(select(func.max(IndexedBatch.last_block))),
        }
