"""A devnet for tests and benchmarks: started in a fresh folder, always destroyed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devnet.network import Devnet, geth_path


@contextmanager
def running_devnet(folder: Path, nodes: int = 3, *, timeout: float = 90) -> Iterator[Devnet]:
    """``nodes`` geth nodes in ``folder`` (which must not hold a network yet), up and sealing;
    on exit exactly the geth processes this network started are stopped, by pid."""
    if not geth_path().exists():
        raise RuntimeError("geth is not built: scripts/setup.sh builds it")
    net = Devnet.create(folder / "net", nodes)
    try:
        net.up(timeout=timeout)
        yield net
    finally:
        net.destroy()
