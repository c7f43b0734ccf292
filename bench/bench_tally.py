"""Benchmark of the tally server: index + verify + tally of a chain of choose-3-of-13 ballots,
and observer/API page latency with that index in the database.

Prints JSON lines (one per figure) and a readable table. Not a test: it never fails.

    .venv/bin/python bench/bench_tally.py                # 1000 ballots
    .venv/bin/python bench/bench_tally.py --ballots 2000 --requests 40

The chain is the embedded one (eth-tester, py-evm) served over JSON-RPC on 127.0.0.1, so the
indexer reads it as it reads real nodes (eth_getLogs, eth_getTransactionByHash, eth_getBlock).
The figures per ballot are projected linearly to 200,000 ballots (no stage is worse than
linear: the indexer works in fixed-size block batches, the verifier once over the record).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

from contracts.chain import Chain
from election.manifest import manifest_from_dict
from election.primitives import blind_rsa
from election.tally import EncryptedTally, combine, compute_decryption_share
from tally_server.app import create_app
from tally_server.config import TallyConfig
from tally_server.db import make_engine, sessions, upgrade
from tally_server.indexer import Indexer, ParallelJudge, counts
from tally_server.public import verified
from tally_server.server import make_server
from tally_server.testing import ElectionKit, TesterRpcServer, free_port

PROJECT_TO = 200_000


def manifest_3_of_13() -> Any:
    return manifest_from_dict(
        {
            "id": "bench-tally-3-of-13",
            "name": {"ja": "集計ベンチ", "en": "Tally bench"},
            "date": "2026-12-06",
            "municipality": {"ja": "つくば市", "en": "Tsukuba"},
            "contests": [
                {
                    "id": "projects",
                    "title": {"ja": "事業", "en": "Projects"},
                    "min": 0,
                    "max": 3,
                    "options": [
                        {"id": f"p{i}", "name": {"ja": f"事業{i}", "en": f"Project {i}"}}
                        for i in range(13)
                    ],
                }
            ],
        }
    )


def emit(rows: list[dict[str, Any]], **row: Any) -> None:
    rows.append(row)
    print(json.dumps(row, ensure_ascii=False), flush=True)


def latency(url: str, n: int) -> dict[str, float]:
    session = requests.Session()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        response = session.get(url, timeout=120)
        times.append(time.perf_counter() - start)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: HTTP {response.status_code}")
    times.sort()
    return {
        "p50_ms": round(statistics.median(times) * 1000, 1),
        "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)] * 1000, 1),
        "max_ms": round(times[-1] * 1000, 1),
    }


def concurrent_load(urls: list[str], clients: int, seconds: float) -> dict[str, float]:
    """``clients`` threads cycling through ``urls`` for ``seconds``: throughput and latency."""
    times: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(offset: int) -> None:
        session = requests.Session()
        i = offset
        while time.monotonic() < stop:
            start = time.perf_counter()
            response = session.get(urls[i % len(urls)], timeout=120)
            took = time.perf_counter() - start
            with lock:
                times.append(took)
                errors[0] += response.status_code != 200
            i += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    times.sort()
    return {
        "clients": clients,
        "requests_per_s": round(len(times) / seconds, 1),
        "p50_ms": round(statistics.median(times) * 1000, 1),
        "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)] * 1000, 1),
        "errors": errors[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ballots", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=30, help="per page, for latency")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients under load")
    parser.add_argument("--load-seconds", type=float, default=10.0)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument("--workers", type=int, default=1, help="processes checking proofs")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    n = args.ballots
    tmp = Path(tempfile.mkdtemp(prefix="ippyo-bench-tally-"))
    url = args.database_url or f"sqlite:///{tmp / 'tally.db'}"
    registrar = blind_rsa.generate_key(2048)

    with TesterRpcServer() as rpc:
        chain = Chain.connect([rpc.url], timeout=60)
        kit = ElectionKit(chain, registrar, manifest=manifest_3_of_13())
        start = time.perf_counter()
        for i in range(n):
            kit.cast(corrupt=(i % 500 == 499))  # a few invalid ballots, as in a real election
        for _ in range(max(1, n // 200)):
            kit.challenge()
        cast_s = time.perf_counter() - start
        emit(
            rows,
            figure="cast (bench setup)",
            ballots=n,
            seconds=round(cast_s, 1),
            per_s=round(n / cast_s, 1),
        )

        upgrade(url)
        engine = make_engine(url)
        factory = sessions(engine)
        parallel = ParallelJudge(kit.setup, args.workers) if args.workers > 1 else None
        reading = [0.0]
        read_casts = kit.box.cast_ballots

        def timed_read(*a: Any, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return read_casts(*a, **k)
            finally:
                reading[0] += time.perf_counter() - t

        indexer = Indexer(
            kit.setup, chain, factory, confirmations=0, batch_blocks=200, judge_many=parallel
        )
        indexer.box.cast_ballots = timed_read  # type: ignore[method-assign]
        start = time.perf_counter()
        indexer.run(poll_seconds=0.01, once=True)
        index_s = time.perf_counter() - start
        if parallel is not None:
            parallel.close()
        got = counts(factory)
        emit(
            rows,
            figure="index (read + validate + store)",
            ballots=got["ballots"],
            workers=args.workers,
            seconds=round(index_s, 1),
            per_s=round(n / index_s, 1),
            projected_200k_min=round(index_s / n * PROJECT_TO / 60, 1),
        )
        own = index_s - reading[0]
        emit(
            rows,
            figure="index, less reading the test chain",
            ballots=n,
            chain_read_s=round(reading[0], 1),
            seconds=round(own, 1),
            per_s=round(n / own, 1),
            projected_200k_min=round(own / n * PROJECT_TO / 60, 1),
        )
        config = TallyConfig(
            database_url=url,
            election_file=kit.write_setup(tmp / "setup.json"),
            rpc_urls=(rpc.url,),
        )
        app = create_app(config)
        seed = os.urandom(32)

        def provider(tally: EncryptedTally) -> Any:
            shares = tuple(
                compute_decryption_share(kit.context, t.index, t.secret_share, tally, seed)
                for t in kit.trustees[: kit.context.quorum]
            )
            return shares, combine(kit.context, tally, shares)

        app.extensions["tally_decryption"] = provider
        state = app.extensions["tally"]
        start = time.perf_counter()
        while True:  # above SYNC_VERIFY_BALLOTS the check runs in the background
            with factory() as session:
                v = verified(state, session, provider)
            if v.current and v.done is not None:
                break
            time.sleep(0.1)
        verify_s = time.perf_counter() - start
        failed = [c["name"] for c in v.done.checks if c["status"] != "ok"]
        emit(
            rows,
            figure="verify + tally (record)",
            ballots=n,
            seconds=round(verify_s, 1),
            per_s=round(n / verify_s, 1),
            failed_checks=failed,
            projected_200k_min=round(verify_s / n * PROJECT_TO / 60, 1),
        )
        total = index_s + verify_s
        emit(
            rows,
            figure="index + verify + tally",
            ballots=n,
            seconds=round(total, 1),
            per_s=round(n / total, 1),
            projected_200k_min=round(total / n * PROJECT_TO / 60, 1),
        )

        server = make_server(app, config, "127.0.0.1", free_port())
        server.prepare()
        thread = threading.Thread(target=server.serve, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.bind_addr[1]}"
        some = kit.box.cast_ballots(kit.first_block, kit.first_block + 5)[0]
        from election.ballot import tracking_code

        code = tracking_code(some.ballot_hash)
        middle = max(1, n // 100)
        pages = {
            "/": "observer home",
            f"/ballots?page={middle}": "observer ballots (middle page)",
            f"/ballots/{code}": "observer one ballot (+ node check)",
            "/excluded": "observer excluded",
            "/result": "observer result (cached verification)",
            "/api/v1/election": "api election",
            f"/api/v1/ballots?page={middle}": "api ballots page",
            f"/api/v1/ballots/{code}": "api one ballot (+ node check)",
            "/api/v1/result": "api result (cached)",
        }
        try:
            for path, label in pages.items():
                emit(
                    rows,
                    figure=f"latency {label}",
                    ballots=n,
                    **latency(base + path, args.requests),
                )
            emit(
                rows,
                figure="concurrent load, all the pages above",
                ballots=n,
                **concurrent_load([base + p for p in pages], args.clients, args.load_seconds),
            )
        finally:
            server.stop()
            thread.join(timeout=10)
            engine.dispose()
            state.engine.dispose()

    print("\nfigure                                         value")
    for r in rows:
        rest = ", ".join(f"{k}={v}" for k, v in r.items() if k != "figure")
        print(f"{r['figure']:<46} {rest}")


if __name__ == "__main__":
    main()
