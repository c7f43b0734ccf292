"""Check the cast ballots' signatures and proofs on every core (a process pool).

:func:`pool_checker` gives a :data:`~election.validity.BallotChecker` for
:func:`~election.record.verify_record`: the ballots go to worker processes in chunks, each
worker rebuilds the election context once (points do not pickle) and runs the core's own
:func:`~election.validity.check_cast_ballots`; the verdicts come back in order. With one worker
(or few ballots) it runs in process.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from election.context import ElectionContext
from election.manifest import manifest_from_dict
from election.primitives.blind_rsa import RSAPublicKey
from election.primitives.group import Point
from election.validity import BallotChecker, CastBallot, check_cast_ballots

CHUNK = 32
"""Ballots per task: large enough to amortise pickling, small enough to balance the cores."""

_worker_context: ElectionContext | None = None


def _context_parts(ctx: ElectionContext) -> tuple[Any, ...]:
    return (
        ctx.manifest.to_dict(),
        ctx.trustees,
        ctx.quorum,
        ctx.joint_public_key.to_bytes(),
        ctx.registrar_key.n,
        ctx.registrar_key.e,
        ctx.chain_id,
        ctx.contract_address,
        ctx.revote_allowed,
    )


def _init_worker(parts: tuple[Any, ...]) -> None:
    global _worker_context
    manifest, n, k, joint, rsa_n, rsa_e, chain_id, contract, revote = parts
    _worker_context = ElectionContext(
        manifest_from_dict(manifest),
        n,
        k,
        Point.from_bytes(joint),
        RSAPublicKey(rsa_n, rsa_e),
        chain_id,
        contract,
        revote,
    )


def _check_chunk(chunk: list[CastBallot]) -> list[str | None]:
    assert _worker_context is not None, "worker not initialised"
    return check_cast_ballots(_worker_context, chunk)


def _start_method() -> str:
    """``fork`` (workers start at once, the modules already loaded) when this process has no
    other thread that could hold a lock across the fork; else ``forkserver``."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def default_workers() -> int:
    """Every core this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def pool_checker(
    workers: int | None = None, progress: Callable[[int, int], None] | None = None
) -> BallotChecker:
    """A ballot checker over ``workers`` processes (default: all cores).

    ``progress(done, total)`` is called as chunks complete (in the calling process).
    """
    count = workers or default_workers()

    def check(ctx: ElectionContext, cast: Sequence[CastBallot]) -> list[str | None]:
        total = len(cast)
        if count <= 1 or total <= CHUNK:
            out: list[str | None] = []
            for start in range(0, total, CHUNK):
                out += check_cast_ballots(ctx, cast[start : start + CHUNK])
                if progress is not None:
                    progress(len(out), total)
            return out
        try:
            return _in_pool(ctx, cast)
        except (OSError, BrokenProcessPool):
            # no processes here (a sandbox, a full process table): the same checks in process
            return check_cast_ballots(ctx, cast)

    def _in_pool(ctx: ElectionContext, cast: Sequence[CastBallot]) -> list[str | None]:
        total = len(cast)
        chunks = [list(cast[i : i + CHUNK]) for i in range(0, total, CHUNK)]
        results: list[list[str | None] | None] = [None] * len(chunks)
        done = 0
        mp = multiprocessing.get_context(_start_method())
        with ProcessPoolExecutor(
            max_workers=count,
            mp_context=mp,
            initializer=_init_worker,
            initargs=(_context_parts(ctx),),
        ) as pool:
            futures = {pool.submit(_check_chunk, chunk): i for i, chunk in enumerate(chunks)}
            for future in as_completed(futures):
                i = futures[future]
                results[i] = future.result()
                done += len(chunks[i])
                if progress is not None:
                    progress(done, total)
        return [v for chunk_result in results if chunk_result is not None for v in chunk_result]

    return check
