"""Benchmark of the officials' dashboard: page latency with a large index in the database.

The index is filled directly with rows of the real shape and size (choose-3-of-13 ballots are
2,814 bytes; one indexed batch per 200 ballots; 1 % excluded with a reason; 50 kiosks with 20
health reports each; 3 nodes observed 1,000 times each): the pages only count and list rows, so
the figure is the database's and the app's work at that scale, not the indexer's (see
bench/bench_tally.py for indexing real ballots). The app runs under cheroot on 127.0.0.1; an
official logs in once (requests.Session) and each page is fetched ``--requests`` times. The
turnout (the page and the JSON its script polls) is computed again only when the index changes
(once per indexer batch, shared by every official): its recomputation is measured on its own.

Prints JSON lines (one per figure) and a table. Not a test: it never fails.

    .venv/bin/python bench/bench_dashboard.py                       # 200,000 ballots, SQLite
    .venv/bin/python bench/bench_dashboard.py --postgres --ballots 50000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import insert

from tally_server.app import create_app
from tally_server.config import TallyConfig
from tally_server.db import make_engine, sessions, upgrade
from tally_server.models import Ballot, IndexedBatch, KioskHealth, NodeObservation
from tally_server.officials import accounts
from tally_server.officials.dashboard import turnout
from tally_server.server import make_server
from tally_server.testing import postgres_server

BALLOT_BYTES = 2814
PER_BATCH = 200
PAGES = [
    "/officials/",
    "/officials/turnout",
    "/officials/data/turnout.json",
    "/officials/nodes",
    "/officials/kiosks",
    "/officials/alerts",
]
NODES = ["http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3"]


def fill(url: str, ballots: int) -> float:
    """Insert the index rows; return the seconds it took."""
    start = time.perf_counter()
    engine = make_engine(url)
    t0 = dt.datetime(2026, 12, 6, 7, 0, tzinfo=dt.UTC)
    blob = os.urandom(BALLOT_BYTES)
    with engine.begin() as conn:
        seq = 0
        for b in range((ballots + PER_BATCH - 1) // PER_BATCH):
            at = t0 + dt.timedelta(seconds=20 * b)
            batch_id = conn.execute(
                insert(IndexedBatch).values(
                    first_block=2 * b + 1,
                    last_block=2 * b + 2,
                    last_hash=os.urandom(32),
                    indexed_at=at,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            rows = []
            for _ in range(min(PER_BATCH, ballots - seq)):
                excluded = seq % 100 == 99
                rows.append(
                    {
                        "seq": seq,
                        "batch_id": batch_id,
                        "token": os.urandom(20),
                        "token_signature": os.urandom(256),
                        "binding_signature": os.urandom(65),
                        "ballot": blob[:-8] + seq.to_bytes(8, "big"),
                        "ballot_hash": os.urandom(32),
                        "tracking_code": f"T{seq:012d}",
                        "check_code": "bad_proof" if excluded else None,
                        "check_message": "a proof does not verify" if excluded else None,
                        "status": "excluded" if excluded else "counted",
                        "reason_code": "bad_proof" if excluded else None,
                        "reason_message": "a proof does not verify" if excluded else None,
                    }
                )
                seq += 1
            conn.execute(insert(Ballot), rows)
        conn.execute(
            insert(KioskHealth),
            [
                {
                    "kiosk_id": f"kiosk-{k:02d}",
                    "received_at": t0 + dt.timedelta(minutes=r),
                    "reader": "card",
                    "outbox_depth": 0,
                    "wrong_pin": r,
                    "locked": 0,
                    "forgotten_pin": r // 3,
                    "refused": 0,
                    "ballots_cast": r * 10,
                    "ballots_checked": r,
                }
                for k in range(50)
                for r in range(20)
            ],
        )
        conn.execute(
            insert(NodeObservation),
            [
                {
                    "observed_at": t0 + dt.timedelta(seconds=5 * i),
                    "url": node,
                    "ok": True,
                    "head": 2 * i,
                    "head_hash": os.urandom(32),
                    "peers": 2,
                    "error": None,
                }
                for node in NODES
                for i in range(1000)
            ],
        )
    engine.dispose()
    return time.perf_counter() - start


@contextmanager
def serve(config: TallyConfig) -> Iterator[str]:
    app = create_app(config)
    server = make_server(app, config, "127.0.0.1", 0)
    server.prepare()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.bind_addr[1]}"
    finally:
        server.stop()
        thread.join(timeout=10)
        app.extensions["tally"].engine.dispose()


def login(base: str, password: str) -> requests.Session:
    session = requests.Session()
    page = session.get(base + "/officials/login", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    answer = session.post(
        base + "/officials/login",
        data={"username": "bench", "password": password, "csrf_token": token.group(1)},
        allow_redirects=False,
        timeout=30,
    )
    if answer.status_code != 302:
        raise RuntimeError(f"login failed: HTTP {answer.status_code}")
    return session


def latency(session: requests.Session, url: str, n: int) -> dict[str, float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        response = session.get(url, timeout=300)
        times.append(time.perf_counter() - start)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: HTTP {response.status_code}")
    times.sort()
    return {
        "p50_ms": round(statistics.median(times) * 1000, 1),
        "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)] * 1000, 1),
        "max_ms": round(times[-1] * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ballots", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=20, help="per page")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ippyo-bench-dashboard-") as tmp:
        database = postgres_server() if args.postgres else nullcontext(None)
        with database as pg_url:
            url = pg_url or f"sqlite:///{Path(tmp) / 'tally.db'}"
            upgrade(url)
            seconds = fill(url, args.ballots)
            row = {"figure": "fill index", "ballots": args.ballots, "seconds": round(seconds, 1)}
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.postgres:  # what autovacuum does after a bulk load, before measuring
                vacuum = make_engine(url).execution_options(isolation_level="AUTOCOMMIT")
                with vacuum.connect() as conn:
                    conn.exec_driver_sql("VACUUM ANALYZE")
                vacuum.engine.dispose()
            engine = make_engine(url)
            factory = sessions(engine)
            times = []
            for _ in range(max(3, args.requests // 2)):
                start = time.perf_counter()
                turnout(factory)
                times.append(time.perf_counter() - start)
            engine.dispose()
            row = {
                "figure": "turnout recomputed (once per index change)",
                "database": "postgresql" if args.postgres else "sqlite",
                "ballots": args.ballots,
                "p50_ms": round(statistics.median(times) * 1000, 1),
                "p95_ms": round(sorted(times)[-1] * 1000, 1),
                "max_ms": round(max(times) * 1000, 1),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
            config = TallyConfig(
                database_url=url,
                rpc_urls=tuple(NODES),
                secret_key="bench secret key, at least 32 characters",
                kiosk_secrets={f"kiosk-{k:02d}": "a" * 64 for k in range(50)},
                trustee_dir=Path(tmp) / "trustees",
            )
            engine_app = create_app(config)
            password = "bench password 123"
            accounts.add_official(
                engine_app.extensions["tally"].sessions, "bench", password, "admin"
            )
            engine_app.extensions["tally"].engine.dispose()
            with serve(config) as base:
                session = login(base, password)
                for path in PAGES:
                    session.get(base + path, timeout=300)  # warm up
                    row = {
                        "figure": f"latency {path}",
                        "database": "postgresql" if args.postgres else "sqlite",
                        "ballots": args.ballots,
                        **latency(session, base + path, args.requests),
                    }
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    print()
    print(f"{'figure':42} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9}")
    for row in rows:
        if "p50_ms" in row:
            print(f"{row['figure']:42} {row['p50_ms']:9} {row['p95_ms']:9} {row['max_ms']:9}")
        else:
            print(f"{row['figure']:42} {row['seconds']} s for {row['ballots']} ballots")


if __name__ == "__main__":
    main()
