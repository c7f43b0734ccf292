"""Benchmark of the verifier's process pool: ``verify_record`` with the ballots' signatures and
proofs checked in process, then by ``ippyo.parallel.pool_checker`` over 1…all cores.

Prints JSON lines (one per figure). Not a test: it never fails (but it asserts that every
run gives the same report).

    .venv/bin/python bench/bench_verify.py                 # 2000 choose-up-to-3-of-13 ballots
    .venv/bin/python bench/bench_verify.py --ballots 500
    .venv/bin/python bench/bench_verify.py --ballots 0 --rpc-ballots 300   # also over geth --dev

With ``--rpc-ballots N`` it also runs an election of N ballots (the demo manifest: mayor 1-of-5
and projects up to 3-of-13) on a ``geth --dev`` node and times ``ippyo verify --rpc``'s two
halves: reading the node (events + calldata) and verifying (all cores).
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
    parser.add_argument("--rpc-ballots", type=int, default=0)
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    cores = default_workers()
    # Other work on the machine takes cores from the pool: say how busy it was.
    emit(rows, figure="machine", cores=cores, load_average_1min=round(os.getloadavg()[0], 2))

    if args.rpc_ballots:
        rpc_bench(rows, args.rpc_ballots)
    if args.ballots:
        record_bench(rows, args.ballots, args.shape, cores)


def rpc_bench(rows: list[dict[str, Any]], ballots: int) -> None:
    import tempfile
    from pathlib import Path

    from contracts.chain import Chain
    from election.primitives import blind_rsa
    from ippyo.chainview import read_node
    from ippyo.scenario import load_demo_manifest
    from ippyo.verify_rpc import verify_chain
    from tests.verify_rpc.kit import dev_geth, run_election

    key = blind_rsa.generate_key(2048)
    with tempfile.TemporaryDirectory() as tmp, dev_geth(Path(tmp) / "geth") as url:
        t0 = time.perf_counter()
        election = run_election([Chain.connect([url])], load_demo_manifest(), key, voters=ballots)
        setup_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        view = read_node(url, election.address)
        read_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        report, _ = verify_chain(
            [view], bytes.fromhex(election.address[2:]), checker=pool_checker()
        )
        verify_s = time.perf_counter() - t0
    assert report.ok, report.summary()
    emit(
        rows,
        figure="verify_rpc_geth_dev",
        ballots=len(view.ballots),
        election_setup_and_cast_s=round(setup_s, 1),
        read_node_s=round(read_s, 2),
        read_ballots_per_s=round(len(view.ballots) / read_s, 1),
        verify_s=round(verify_s, 2),
        verify_ballots_per_s=round(len(view.ballots) / verify_s, 1),
        projection_200k_min=round(200_000 * (read_s + verify_s) / len(view.ballots) / 60, 1),
        load_average_1min=round(os.getloadavg()[0], 2),
    )


def record_bench(rows: list[dict[str, Any]], ballots: int, shape: str, cores: int) -> None:
    ctx, trustees, key = _setup(shape)
    _init(ctx, key, shape)
    chunks = [(i, min(i + 250, ballots)) for i in range(0, ballots, 250)]
    with multiprocessing.Pool(cores, initializer=_init, initargs=(ctx, key, shape)) as pool:
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
        shape=shape,
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
            shape=shape,
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
