"""Benchmark of the chain layer: gas per ballot, sustained ballots/s, latency, and what limits it.

    .venv/bin/python bench/bench_chain.py                 # eth-tester and a fresh 3-node devnet
    .venv/bin/python bench/bench_chain.py --ballots 2000 --senders 8 --window 32   # defaults

Real encrypted ballots (1-of-5 and choose-up-to-3-of-13) with real tokens and bindings (made
before the clock starts: a kiosk makes them at the voter's pace). On the devnet each sender is
its own process with its own account and its own connections to the three nodes, as a kiosk
would be, and keeps at most ``--window`` ballots in flight (submitted, no receipt yet).
Figures: gas per ballot (receipts), ballots sealed per second of wall time (first submission
to last receipt), submission → receipt p50/p95, CPU of the senders, the nodes, and the whole
machine (others' work included), block fill and period, the node's transaction pool, the load
average before and after, and a verdict on the limit. Prints JSON lines and a table.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import multiprocessing
import os
import secrets
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_account import Account
from web3 import Web3

from bench.bench_election import manifest_for
from contracts.chain import Chain, Sender
from contracts.client import BallotBox
from devnet.network import Devnet
from election import token as tk
from election.ballot import PlaintextBallot, encrypt_ballot
from election.context import ElectionContext
from election.keyceremony import run_ceremony
from election.primitives import blind_rsa


def prepare(
    shape: str, count: int, key: blind_rsa.RSAPrivateKey
) -> tuple[Any, list[tuple[Any, bytes, bytes]]]:
    m = manifest_for(shape)
    _, _, _, _, result = run_ceremony(m.election_id, 3, 2)
    ctx = ElectionContext(m, 3, 2, result.joint_public_key, key.public_key, 1, b"\x01" * 20)
    out = []
    for i in range(count):
        token, blinding = tk.blind_token(key.public_key, ctx.election_id, secrets.token_bytes(256))
        sig = tk.finalize_token(
            key.public_key,
            ctx.election_id,
            token,
            blind_rsa.blind_sign(key, blinding.blinded_msg),
            blinding,
        )
        choice = {"c": ["o0"]} if shape == "1-of-5" else {"c": [f"o{i % 13}", f"o{(i + 5) % 13}"]}
        ballot = encrypt_ballot(
            ctx, PlaintextBallot.from_choices(m, choice), secrets.token_bytes(32)
        )
        out.append((token, sig, ballot.to_bytes()))
    return ctx, out


def deploy(chain: Chain, admin: Sender, ctx: Any, key: blind_rsa.RSAPrivateKey) -> BallotBox:
    box = BallotBox.deploy(
        admin,
        election_id=ctx.election_id,
        base_hash=secrets.token_bytes(32),
        registrar_modulus=key.public_key.modulus_bytes(),
        registrar_exponent=key.public_key.exponent_bytes(),
        revote_allowed=False,
        kiosks=[],
    )
    box.open(admin)
    return box


POOL_SLOTS, POOL_QUEUE = 16384, 4096  # devnet/network.py's --txpool.globalslots/globalqueue
Item = tuple[Any, bytes, bytes]  # (token key, registrar signature, ballot)
Work = tuple[bytes, bytes, bytes, bytes]  # castBallot's arguments


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_jiffies() -> tuple[int, int]:
    """(busy, total) CPU jiffies of the whole machine since boot (Linux /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _bindings(box: BallotBox, items: list[Item]) -> list[Work]:
    contract = bytes.fromhex(box.address[2:])
    return [
        (
            token.address,
            sig,
            ballot,
            tk.sign_binding(token, box.chain.chain_id, contract, hashlib.sha256(ballot).digest()),
        )
        for token, sig, ballot in items
    ]


def _send_all(
    box: BallotBox, sender: Sender, work: list[Work], window: int
) -> tuple[list[float], list[int], float]:
    """Submit every ballot, at most ``window`` in flight; (latencies, gas, submit CPU s)."""
    inflight: deque[tuple[float, Any]] = deque()
    latency: list[float] = []
    gas: list[int] = []
    submit_cpu = 0.0

    def settle() -> None:
        submitted, pending = inflight.popleft()
        receipt = box.cast_receipt(pending, timeout=300)
        latency.append(time.perf_counter() - submitted)
        gas.append(receipt.gas_used)

    for args in work:
        while len(inflight) >= window:
            settle()
        submitted, c0 = time.perf_counter(), time.thread_time()
        inflight.append((submitted, box.submit_ballot(sender, *args)))
        submit_cpu += time.thread_time() - c0
    while inflight:
        settle()
    return latency, gas, submit_cpu


def _sender_process(
    index: int,
    urls: list[str],
    key: str,
    address: str,
    work: list[Work],
    window: int,
    start: Any,
    results: Any,
) -> None:
    # Each kiosk prefers its own node (the others are its failover), as they would be spread.
    first = index % len(urls)
    chain = Chain.connect(urls[first:] + urls[:first])
    sender = Sender(chain, Account.from_key(key))
    box = BallotBox(chain, address)
    start.wait()
    c0 = time.process_time()
    latency, gas, submit_cpu = _send_all(box, sender, work, window)
    results.put(
        {"latency": latency, "gas": gas, "cpu": time.process_time() - c0, "submit_cpu": submit_cpu}
    )


def tester_throughput(box: BallotBox, sender: Sender, items: list[Item]) -> tuple[float, list[int]]:
    """eth-tester: embedded, one process (one sender is honest: they would share the GIL)."""
    work = _bindings(box, items)
    t0 = time.perf_counter()
    _, gas, _ = _send_all(box, sender, work, window=len(work))
    return len(work) / (time.perf_counter() - t0), gas


def sender_costs(chain: Chain, box: BallotBox, work: list[Work]) -> dict[str, float]:
    """CPU milliseconds per ballot of a sender's steps, measured apart (no broadcast)."""
    probe = Sender(chain, Account.create())
    n = min(200, len(work))
    selector = bytes(32)[:4]
    c0 = time.process_time()
    datas = [
        selector + abi_encode(["address", "bytes", "bytes", "bytes"], [w[0], w[1], w[2], w[3]])
        for w in work[:n]
    ]
    encode = time.process_time() - c0
    probe.sign({"to": box.address, "data": datas[0], "gas": 300_000})  # nonce + price once
    c0 = time.process_time()
    for data in datas:
        probe.sign({"to": box.address, "data": data, "gas": 300_000})
    sign = time.process_time() - c0
    c0 = time.process_time()
    for _ in range(n):
        chain.call(lambda w3: w3.eth.block_number)
    rpc = time.process_time() - c0
    return {
        "abi_encode_ms": round(1000 * encode / n, 2),
        "sign_rlp_ms": round(1000 * sign / n, 2),
        "one_rpc_ms": round(1000 * rpc / n, 2),
    }


class Monitor:
    """Samples node 0's transaction pool and the machine's CPU once a second."""

    def __init__(self, net: Devnet) -> None:
        self.net = net
        self.pool: list[tuple[int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            with contextlib.suppress(Exception):  # a busy node may miss a sample
                self.pool.append(self.net.txpool_status(0))

    def __enter__(self) -> Monitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def devnet_throughput(
    net: Devnet,
    chain: Chain,
    box: BallotBox,
    keys: list[str],
    items: list[Item],
    window: int,
) -> dict[str, Any]:
    work = _bindings(box, items)
    costs = sender_costs(chain, box, work)
    shares = [work[i :: len(keys)] for i in range(len(keys))]
    ctx = multiprocessing.get_context("fork")
    start, results = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(
            target=_sender_process,
            args=(i, net.state.urls, key, box.address, share, window, start, results),
        )
        for i, (key, share) in enumerate(zip(keys, shares, strict=True))
    ]
    for p in procs:
        p.start()
    time.sleep(1.0)  # let every sender connect
    geth = [n.pid for n in net.state.nodes if n.pid is not None]
    first_block = chain.call(lambda w3: int(w3.eth.block_number))
    load_before = os.getloadavg()[0]
    g0 = sum(_cpu_seconds(p) for p in geth)
    m0 = _machine_jiffies()
    t0 = time.perf_counter()
    with Monitor(net) as monitor:
        start.set()
        out = [results.get() for _ in procs]
        wall = time.perf_counter() - t0
    m1 = _machine_jiffies()
    geth_cores = (sum(_cpu_seconds(p) for p in geth) - g0) / wall
    for p in procs:
        p.join()
    last_block = chain.call(lambda w3: int(w3.eth.block_number))

    def block(w3: Web3, number: int) -> Any:
        return w3.eth.get_block(number)

    blocks = [
        chain.call(functools.partial(block, number=b))
        for b in range(first_block + 1, last_block + 1)
    ]
    busy = [b for b in blocks if b["transactions"]]
    fill = [b["gasUsed"] / b["gasLimit"] for b in busy] or [0.0]
    span = blocks[-1]["timestamp"] - blocks[0]["timestamp"] if len(blocks) > 1 else 0
    latency = [x for r in out for x in r["latency"]]
    gas = [x for r in out for x in r["gas"]]
    senders_cores = sum(r["cpu"] for r in out) / wall
    machine = (m1[0] - m0[0]) / max(1, m1[1] - m0[1])
    cores = os.cpu_count() or 1
    pool_pending = max((p for p, _ in monitor.pool), default=0)
    pool_queued = max((q for _, q in monitor.pool), default=0)
    if max(fill) > 0.8:
        limit = "blocks (a block was more than 80 % full)"
    elif pool_pending > 0.9 * POOL_SLOTS or pool_queued > 0.9 * POOL_QUEUE:
        limit = "transaction pool (near geth's --txpool.globalslots/globalqueue)"
    elif machine > 0.9:
        limit = (
            f"CPU (the machine was {100 * machine:.0f} % busy: senders "
            f"{senders_cores:.2f} + nodes {geth_cores:.2f} + others "
            f"{max(0.0, machine * cores - senders_cores - geth_cores):.2f} of {cores} cores)"
        )
    else:
        limit = "none of blocks, pool or CPU: the senders' window and the block period"
    return {
        "ballots": len(work),
        "ballots_per_s": round(len(work) / wall, 1),
        "gas_per_ballot": int(sum(gas) / len(gas)),
        "latency_p50_s": round(_percentile(latency, 0.5), 2),
        "latency_p95_s": round(_percentile(latency, 0.95), 2),
        "senders_cpu_cores": round(senders_cores, 2),
        "senders_submit_cpu_ms_per_ballot": round(
            1000 * sum(r["submit_cpu"] for r in out) / len(work), 2
        ),
        "senders_cpu_ms_per_ballot": round(1000 * sum(r["cpu"] for r in out) / len(work), 2),
        **costs,
        "geth_cpu_cores": round(geth_cores, 2),
        "geth_cpu_ms_per_ballot": round(1000 * geth_cores * wall / len(work), 2),
        "machine_busy": round(machine, 2),
        "machine_cores": cores,
        "load_avg_before": round(load_before, 2),
        "load_avg_after": round(os.getloadavg()[0], 2),
        "blocks": len(blocks),
        "block_period_s": round(span / max(1, len(blocks) - 1), 2),
        "max_ballots_per_block": max((len(b["transactions"]) for b in blocks), default=0),
        "max_block_fill": round(max(fill), 3),
        "block_gas_limit": int(blocks[-1]["gasLimit"]) if blocks else 0,
        "pool_max_pending": pool_pending,
        "pool_max_queued": pool_queued,
        "limit": limit,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ballots", type=int, default=2000, help="per shape on the devnet")
    parser.add_argument("--tester-ballots", type=int, default=30)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--window", type=int, default=32, help="ballots in flight per sender")
    parser.add_argument("--skip-devnet", action="store_true")
    parser.add_argument(
        "--shape", choices=["1-of-5", "3-of-13"], action="append", help="default: both"
    )
    args = parser.parse_args()
    key = blind_rsa.generate_key(2048)
    rows = []

    def emit(**row: Any) -> None:
        rows.append(row)
        print(json.dumps(row), flush=True)

    shapes = args.shape or ["1-of-5", "3-of-13"]
    for shape in shapes if args.tester_ballots else []:
        ctx, items = prepare(shape, args.tester_ballots, key)
        chain = Chain.embedded_tester()
        admin = Sender(chain, Account.create())
        chain.fund([admin.address], 10**22)
        box = deploy(chain, admin, ctx, key)
        rate, gas = tester_throughput(box, admin, items)
        emit(
            figure="eth_tester",
            shape=shape,
            ballots=len(items),
            ballots_per_s=round(rate, 1),
            gas_per_ballot=int(sum(gas) / len(gas)),
            ballot_bytes=len(items[0][2]),
        )

    if not args.skip_devnet:
        prepared = {shape: prepare(shape, args.ballots, key) for shape in shapes}
        directory = Path(tempfile.mkdtemp(prefix="ippyo-bench-")) / "net"
        net = Devnet.create(directory, 3, funded_accounts=args.senders + 1)
        try:
            net.up(timeout=90)
            chain = Chain.connect(net.state.urls)
            admin = Sender(chain, Account.from_key(net.state.funded_keys[0]))
            for shape, (ctx, items) in prepared.items():
                box = deploy(chain, admin, ctx, key)
                figures = devnet_throughput(
                    net, chain, box, net.state.funded_keys[1:], items, args.window
                )
                emit(
                    figure="devnet_3_nodes",
                    shape=shape,
                    senders=args.senders,
                    window=args.window,
                    ballot_bytes=len(items[0][2]),
                    **figures,
                )
        finally:
            net.destroy()

    print(
        "\nfigure          shape    ballots/s gas/ballot bytes  p50 s  p95 s  "
        "CPU senders/geth/machine"
    )
    for r in rows:
        rate, gas, size = r["ballots_per_s"], r["gas_per_ballot"], r["ballot_bytes"]
        extra = (
            f"  {r['latency_p50_s']:>5}  {r['latency_p95_s']:>5}  "
            f"{r['senders_cpu_cores']}/{r['geth_cpu_cores']}/"
            f"{round(r['machine_busy'] * r['machine_cores'], 2)} of {r['machine_cores']} cores"
            if "latency_p50_s" in r
            else ""
        )
        print(f"{r['figure']:<15} {r['shape']:<8} {rate:>9} {gas:>10} {size:>5}{extra}")
        if "limit" in r:
            print(
                f"    limit: {r['limit']}; load average {r['load_avg_before']} → "
                f"{r['load_avg_after']}; {r['max_ballots_per_block']} ballots in the fullest "
                f"block ({100 * r['max_block_fill']:.1f} % of {r['block_gas_limit']:,} gas), "
                f"block period {r['block_period_s']} s; pool ≤ {r['pool_max_pending']} "
                f"pending / {r['pool_max_queued']} queued; sender CPU per ballot "
                f"{r['senders_cpu_ms_per_ballot']} ms (submit "
                f"{r['senders_submit_cpu_ms_per_ballot']}"
                f": ABI {r['abi_encode_ms']}, sign+RLP {r['sign_rlp_ms']}, one RPC "
                f"{r['one_rpc_ms']})"
            )


if __name__ == "__main__":
    main()
