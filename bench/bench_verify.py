"""Benchmark of the verifier's process pool: ``verify_record`` with the ballots' signatures and
proofs checked in process, then by ``ippyo.parallel.pool_checker`` over 1…all cores.

Prints JSON lines (one per figure). Not a test: it never fails (but it asserts that every
run gives the same report).

    .venv/bin/python bench/bench_verify.py                 # 2000 choose-up-to-3-of-13 ballots
    .venv/bin/python bench/bench_verify.py --ballots 500
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import secrets
import time
from typing import Any

from bench.bench_election import _STATE, _init, _make_cast, _setup, emit
from election.record import ChainAnchor, ElectionRecord, verify_record
from election.tally import combine, compute_decryption_share, tally_ballots
from election.validity import select_ballots
from ippyo.parallel import default_workers, pool_checker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ballots", type=int, default=2000)
    parser.add_argument("--shape", default="3-of-13", choices=["1-of-5", "3-of-13"])
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    cores = default_workers()
    # Other work on the machine takes cores from the pool: say how busy it was.
    emit(rows, figure="machine", cores=cores, load_average_1min=round(os.getloadavg()[0], 2))

    ctx, trustees, key = _setup(args.shape)
    _init(ctx, key, args.shape)
    chunks = [(i, min(i + 250, args.ballots)) for i in range(0, args.ballots, 250)]
    with multiprocessing.Pool(cores, initializer=_init, initargs=(ctx, key, args.shape)) as pool:
        cast = [c for part in pool.map(_make_cast, chunks) for c in part]
    ann, dealt, complaints = _STATE["transcript"]
    sel = select_ballots(ctx, cast)
    tally = tally_ballots(ctx, [b for _, b in sel.counted])
    shares = tuple(
        compute_decryption_share(ctx, t.index, t.secret_share, tally, secrets.token_bytes(32))
        for t in trustees[:3]
    )
    record = ElectionRecord(
        ctx.manifest,
        5,
        3,
        False,
        ctx.chain_id,
        ctx.contract_address,
        ctx.registrar_key,
        ann,
        dealt,
        complaints,
        ctx.joint_public_key,
        tuple(cast),
        ChainAnchor(len(cast), 0, 1, 2),
        (),
        sel.excluded,
        tally,
        shares,
        combine(ctx, tally, shares),
    )

    t0 = time.perf_counter()
    reference = verify_record(record).summary()
    serial_s = time.perf_counter() - t0
    emit(
        rows,
        figure="verify_record_in_process",
        shape=args.shape,
        ballots=len(cast),
        seconds=round(serial_s, 2),
        ballots_per_s=round(len(cast) / serial_s, 1),
    )
    for workers in sorted({1, *range(2, cores + 1)}):
        t0 = time.perf_counter()
        summary = verify_record(record, checker=pool_checker(workers)).summary()
        took = time.perf_counter() - t0
        assert summary == reference, "the pool changed the report"
        emit(
            rows,
            figure="verify_record_pool",
            shape=args.shape,
            ballots=len(cast),
            workers=workers,
            seconds=round(took, 2),
            ballots_per_s=round(len(cast) / took, 1),
            speedup=round(serial_s / took, 2),
            projection_200k_min=round(200_000 / (len(cast) / took) / 60, 1),
            load_average_1min=round(os.getloadavg()[0], 2),
        )


if __name__ == "__main__":
    main()
