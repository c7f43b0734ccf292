"""Benchmark of the chain layer: gas per ballot, and sustained ballots/s.

    .venv/bin/python bench/bench_chain.py                 # eth-tester and a fresh 3-node devnet
    .venv/bin/python bench/bench_chain.py --ballots 2000 --senders 8   # the defaults

Real encrypted ballots (1-of-5 and choose-up-to-3-of-13) with real tokens and bindings.
Senders each sign their own transactions and keep many in flight (as several kiosks would);
the figure is ballots sealed per second of wall time, from first submission to last receipt.
Prints JSON lines and a table; never fails.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from eth_account import Account

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


CLIENT_CPU: list[float] = []  # the senders' CPU time / wall time, per throughput run
LATENCY: list[list[float]] = []  # seconds from submission to receipt, per throughput run


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def throughput(
    box: BallotBox, senders: list[Sender], items: list[tuple[Any, bytes, bytes]]
) -> tuple[float, list[int]]:
    contract = bytes.fromhex(box.address[2:])
    shares = [items[i :: len(senders)] for i in range(len(senders))]
    gas: list[int] = []
    latency: list[float] = []
    lock = threading.Lock()

    def run(sender: Sender, mine: list[tuple[Any, bytes, bytes]]) -> None:
        pending = []
        for token, sig, ballot in mine:
            binding = tk.sign_binding(
                token, box.chain.chain_id, contract, hashlib.sha256(ballot).digest()
            )
            submitted = time.perf_counter()
            pending.append(
                (submitted, box.submit_ballot(sender, token.address, sig, ballot, binding))
            )
        for submitted, p in pending:
            r = box.cast_receipt(p, timeout=300)
            done = time.perf_counter()
            with lock:
                gas.append(r.gas_used)
                latency.append(done - submitted)

    threads = [
        threading.Thread(target=run, args=(s, share))
        for s, share in zip(senders, shares, strict=True)
    ]
    t0, c0 = time.perf_counter(), time.process_time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    CLIENT_CPU.append((time.process_time() - c0) / wall)
    LATENCY.append(latency)
    return len(items) / wall, gas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ballots", type=int, default=2000, help="per shape on the devnet")
    parser.add_argument("--tester-ballots", type=int, default=30)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--skip-devnet", action="store_true")
    args = parser.parse_args()
    key = blind_rsa.generate_key(2048)
    rows = []

    def emit(**row: Any) -> None:
        rows.append(row)
        print(json.dumps(row), flush=True)

    # eth-tester: embedded, one process (senders share the GIL, so one sender is honest).
    for shape in ("1-of-5", "3-of-13"):
        ctx, items = prepare(shape, args.tester_ballots, key)
        chain = Chain.embedded_tester()
        admin = Sender(chain, Account.create())
        chain.fund([admin.address], 10**22)
        box = deploy(chain, admin, ctx, key)
        rate, gas = throughput(box, [admin], items)
        emit(
            figure="eth_tester",
            shape=shape,
            ballots=len(items),
            ballots_per_s=round(rate, 1),
            gas_per_ballot=int(sum(gas) / len(gas)),
            ballot_bytes=len(items[0][2]),
        )

    if not args.skip_devnet:
        directory = Path(tempfile.mkdtemp(prefix="ippyo-bench-")) / "net"
        net = Devnet.create(directory, 3, funded_accounts=args.senders + 1)
        try:
            net.up(timeout=90)
            chain = Chain.connect(net.state.urls)
            senders = [Sender(chain, Account.from_key(k)) for k in net.state.funded_keys]
            for shape in ("1-of-5", "3-of-13"):
                ctx, items = prepare(shape, args.ballots, key)
                box = deploy(chain, senders[0], ctx, key)
                pids = [n.pid for n in net.state.nodes if n.pid is not None]
                g0 = sum(_cpu_seconds(p) for p in pids)
                t0 = time.perf_counter()
                rate, gas = throughput(box, senders[1:], items)
                geth_cores = (sum(_cpu_seconds(p) for p in pids) - g0) / (time.perf_counter() - t0)
                emit(
                    client_cpu_cores=round(CLIENT_CPU[-1], 2),
                    geth_cpu_cores=round(geth_cores, 2),
                    machine_cores=os.cpu_count(),
                    latency_p50_s=round(_percentile(LATENCY[-1], 0.5), 2),
                    latency_p95_s=round(_percentile(LATENCY[-1], 0.95), 2),
                    figure="devnet_3_nodes",
                    shape=shape,
                    ballots=len(items),
                    senders=args.senders,
                    ballots_per_s=round(rate, 1),
                    gas_per_ballot=int(sum(gas) / len(gas)),
                    ballot_bytes=len(items[0][2]),
                )
        finally:
            net.destroy()

    print(
        "\nfigure            shape     ballots/s  gas/ballot  bytes  p50 s  p95 s  CPU senders/geth"
    )
    for r in rows:
        rate, gas, size = r["ballots_per_s"], r["gas_per_ballot"], r["ballot_bytes"]
        extra = (
            f"  {r['latency_p50_s']:>5}  {r['latency_p95_s']:>5}  "
            f"{r['client_cpu_cores']}/{r['geth_cpu_cores']} of {r['machine_cores']} cores"
            if "latency_p50_s" in r
            else ""
        )
        print(f"{r['figure']:<17} {r['shape']:<9} {rate:>9}  {gas:>10}  {size:>5}{extra}")


if __name__ == "__main__":
    main()
