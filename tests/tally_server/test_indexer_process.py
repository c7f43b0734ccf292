"""`ippyo tally index` as its own process: SIGKILLed while ballots stream in, restarted, and
the index ends with exactly the chain's ballots."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import select

from tally_server.db import make_engine, sessions
from tally_server.indexer import counts
from tally_server.models import Ballot
from tally_server.testing import ElectionKit, TesterRpcServer

BALLOTS = 40


def _start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "ippyo", "tally", "index", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def test_killed_and_restarted_mid_stream_gives_exact_counts(
    rpc: TesterRpcServer, kit: ElectionKit, database_url: str, tmp_path: Path
) -> None:
    setup = kit.write_setup(tmp_path / "setup.json")
    config = tmp_path / "tally.toml"
    config.write_text(
        f'database_url = "{database_url}"\nelection_file = "{setup}"\n'
        f'rpc_urls = ["{rpc.url}"]\nconfirmations = 0\nindex_batch_blocks = 1\n'
        "index_poll_seconds = 0.05\n"
    )
    log = tmp_path / "indexer.log"
    engine = make_engine(database_url)
    factory = sessions(engine)
    cast: list[str] = []

    def voters() -> None:
        for _ in range(BALLOTS):
            cast.append(kit.cast().tracking_code)
            time.sleep(0.05)

    stream = threading.Thread(target=voters)
    proc = _start(config, log)
    killed_at = None
    try:
        stream.start()
        deadline = time.monotonic() + 120
        while killed_at is None:
            assert time.monotonic() < deadline, log.read_text()
            assert proc.poll() is None, log.read_text()
            try:
                seen = counts(factory)["ballots"]
            except Exception:  # the schema is not there until the indexer migrated it
                seen = 0
            if 5 <= seen < BALLOTS - 10:
                os.killpg(proc.pid, signal.SIGKILL)  # mid-stream, maybe mid-transaction
                proc.wait(timeout=10)
                killed_at = seen
            time.sleep(0.02)
        assert len(cast) < BALLOTS, "the stream ended before the kill: not mid-stream"
        proc = _start(config, log)  # restarted while ballots keep arriving
        stream.join(timeout=120)
        assert len(cast) == BALLOTS
        deadline = time.monotonic() + 120
        while counts(factory)["ballots"] < BALLOTS:
            assert time.monotonic() < deadline, log.read_text()
            assert proc.poll() is None, log.read_text()
            time.sleep(0.1)
        time.sleep(0.5)  # anything extra would show now
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
    assert proc.returncode == 0, log.read_text()
    result = counts(factory)
    assert (result["ballots"], result["counted"], result["excluded"]) == (BALLOTS, BALLOTS, 0)
    with factory() as session:
        rows = session.execute(select(Ballot.seq, Ballot.tracking_code).order_by(Ballot.seq))
        assert [tuple(r) for r in rows] == list(enumerate(cast))
    engine.dispose()
    final = json.loads(log.read_text().strip().splitlines()[-1])
    assert final["ballots"] == BALLOTS
    assert killed_at is not None and 5 <= killed_at < BALLOTS
