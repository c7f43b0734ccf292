"""Live services for the tally server's tests and benchmarks (not a conftest: importable).

* :func:`postgres_server` — a real PostgreSQL on a free loopback port, run as the ``postgres``
  user (it refuses root), stopped by pid;
* :func:`free_port`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yield an SQLAlchemy URL of a fresh PostgreSQL server; stop it (by pid) afterwards."""
    bindirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not bindirs:
        raise RuntimeError("PostgreSQL is not installed: scripts/setup.sh installs it")
    bin_ = bindirs[-1]
    data = Path(tempfile.mkdtemp(prefix="ippyo-tally-pg-"))
    as_postgres = os.geteuid() == 0
    run = ["runuser", "-u", "postgres", "--"] if as_postgres else []
    if as_postgres:
        shutil.chown(data, "postgres", "postgres")
    port = free_port()
    subprocess.run(
        [*run, str(bin_ / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    proc = subprocess.Popen(
        [
            *run,
            str(bin_ / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={data}",
            "-c",
            "fsync=off",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while (
            subprocess.run(
                [str(bin_ / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                capture_output=True,
            ).returncode
            != 0
        ):
            if proc.poll() is not None:
                raise RuntimeError("postgres exited at start")
            if time.monotonic() > deadline:
                raise RuntimeError("postgres did not start within 30 s")
            time.sleep(0.2)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)
