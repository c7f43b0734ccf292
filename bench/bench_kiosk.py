"""Benchmark of one voter at the kiosk: PIN accepted → receipt shown, through real parts.

    .venv/bin/python -m bench.bench_kiosk [--voters 20] [--chains embedded,devnet] [--slot 1]

The kiosk core (:class:`kiosk.core.session.Session`, jobs run inline) with the virtual card in
pcscd (vpcd's reader ``--slot``), the registrar service over HTTP on 127.0.0.1, and the
BallotBox on the embedded chain (eth-tester) and on a 3-node geth Clique devnet (1 s blocks)
started in a temporary directory and stopped at the end. For each voter, untimed: a new card
is inserted and the PIN screen reached. Timed, from the moment the card accepts the PIN:

* ``issue``: PIN accepted → ballot shown (registrar key check, two card signatures over
  PC/SC, blinding, challenge and issuance, unblinding, the contract's already-voted question);
* ``encrypt``: the voter confirms → tracking code shown (encryption with proofs);
* ``cast``: the voter casts → receipt shown (sign, outbox fsync, broadcast, receipt with
  ``--confirmations`` (default 1: the including block));
* ``total``: PIN accepted → receipt (the voter's own choosing time excluded).

The goal is total ≤ 1 s plus the confirmations' wait. Prints JSON lines and a table with
p50/p95 per chain; never fails.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account

from card_reader.stack import ensure_pcscd, stop_pcscd
from contracts.chain import Chain, Sender
from devnet.network import Devnet
from kiosk.core.outbox import Outbox
from kiosk.core.session import KioskCard, Services, Session, State
from kiosk.testing import (
    EmbeddedElection,
    LiveRegistrar,
    ReaderSlot,
    embedded_election,
    new_resident,
    open_election,
    registrar_service,
    test_manifest,
)

PIN = "ABC123"
SEGMENTS = ("issue", "encrypt", "cast", "total")


class TimedCard:
    """The card as the session uses it, noting when it accepted the PIN."""

    def __init__(self, card: KioskCard, accepted: list[float]) -> None:
        self._card, self._accepted = card, accepted

    def signature_pin_tries_left(self) -> int | None:
        return self._card.signature_pin_tries_left()

    def verify_signature_pin(self, pin: str) -> None:
        self._card.verify_signature_pin(pin)
        self._accepted.append(time.perf_counter())

    def read_signature_certificate(self) -> bytes:
        return self._card.read_signature_certificate()

    def sign_sha256(self, digest: bytes) -> bytes:
        return self._card.sign_sha256(digest)

    def close(self) -> None:
        self._card.close()


@dataclass
class Run:
    chain: str
    times: dict[str, list[float]]
    failures: list[str]


def state_of(session: Session) -> State:
    return session.state


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def run_voters(
    name: str,
    election: EmbeddedElection,
    registrar: LiveRegistrar,
    slot: ReaderSlot,
    outbox_dir: Path,
    voters: int,
    confirmations: int,
) -> Run:
    accepted: list[float] = []

    def open_card() -> KioskCard:
        return TimedCard(slot.open(), accepted)

    session = Session(
        Services(
            kiosk_id=registrar.client.kiosk_id,
            context=election.context,
            open_card=open_card,
            registrar=registrar.client,
            box=election.box,
            sender=election.kiosk,
            outbox=Outbox(outbox_dir),
            confirmations=confirmations,
        )
    )
    run = Run(name, {k: [] for k in SEGMENTS}, [])
    for _ in range(voters):
        slot.insert(registrar.card(new_resident()))
        session.begin()
        session.card_inserted()
        if state_of(session) is not State.PIN:
            run.failures.append(f"card: {session.view}")
            session.card_removed()
            continue
        accepted.clear()
        session.enter_pin(PIN)
        t_ballot = time.perf_counter()
        if state_of(session) is not State.BALLOT or not accepted:
            run.failures.append(f"issue: {session.view.state.value} {session.view.refusal}")
            session.card_removed()
            continue
        session.choose({"mayor": ["suzuki"]})
        t0 = time.perf_counter()
        session.confirm()
        t_code = time.perf_counter()
        t1 = time.perf_counter()
        session.cast()
        t_receipt = time.perf_counter()
        if state_of(session) is not State.RECEIPT:
            run.failures.append(f"cast: {session.view.state.value} {session.view.error}")
            session.card_removed()
            continue
        chosen = t1 - t_code + t0 - t_ballot  # the voter's own time (next to nothing here)
        run.times["issue"].append(t_ballot - accepted[0])
        run.times["encrypt"].append(t_code - t0)
        run.times["cast"].append(t_receipt - t1)
        run.times["total"].append(t_receipt - accepted[0] - chosen)
        session.finish()
        session.card_removed()
    return run


@contextmanager
def devnet_election(
    directory: Path, registrar: LiveRegistrar
) -> Iterator[tuple[EmbeddedElection, Devnet]]:
    net = Devnet.create(directory / "devnet", 3)
    try:
        net.up(timeout=90)
        chain = Chain.connect(net.state.urls, timeout=5.0)
        keys = net.state.funded_keys
        admin = Sender(chain, Account.from_key(keys[0]))
        kiosk = Sender(chain, Account.from_key(keys[1]))
        yield open_election(chain, admin, kiosk, test_manifest(), registrar.public_key), net
    finally:
        net.destroy()  # stops exactly the geth processes it started


def report(run: Run, extra: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"chain": run.chain, "voters": len(run.times["total"]), **extra}
    for segment in SEGMENTS:
        values = run.times[segment]
        row[f"{segment}_p50_ms"] = round(_percentile(values, 0.5) * 1e3, 1)
        row[f"{segment}_p95_ms"] = round(_percentile(values, 0.95) * 1e3, 1)
    if run.times["total"]:
        row["total_mean_ms"] = round(statistics.fmean(run.times["total"]) * 1e3, 1)
    row["failures"] = len(run.failures)
    if run.failures:
        row["first_failure"] = run.failures[0][:200]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--voters", type=int, default=20)
    parser.add_argument("--chains", default="embedded,devnet")
    parser.add_argument("--confirmations", type=int, default=1)
    parser.add_argument(
        "--slot", type=int, default=1, help="vpcd reader index (0 or 1) for the virtual card"
    )
    args = parser.parse_args()
    chains = [c.strip() for c in args.chains.split(",") if c.strip()]
    tmp = Path(tempfile.mkdtemp(prefix="ippyo-bench-kiosk-"))
    started = ensure_pcscd()
    slot = ReaderSlot(index=args.slot)
    slot.acquire()  # not while a test run uses the same vpcd slot
    rows: list[dict[str, Any]] = []
    runners: dict[str, Callable[[LiveRegistrar], Run]] = {}
    try:
        with registrar_service(tmp / "registrar", test_manifest()) as registrar:

            def embedded(live: LiveRegistrar) -> Run:
                election = embedded_election(test_manifest(), live.public_key)
                return run_voters(
                    "embedded",
                    election,
                    live,
                    slot,
                    tmp / "outbox-embedded",
                    args.voters,
                    args.confirmations,
                )

            def devnet(live: LiveRegistrar) -> Run:
                with devnet_election(tmp, live) as (election, _net):
                    return run_voters(
                        "devnet-3-clique-1s",
                        election,
                        live,
                        slot,
                        tmp / "outbox-devnet",
                        args.voters,
                        args.confirmations,
                    )

            runners = {"embedded": embedded, "devnet": devnet}
            for name in chains:
                if name not in runners:
                    print(json.dumps({"chain": name, "error": "unknown chain"}), flush=True)
                    continue
                run = runners[name](registrar)
                rows.append(report(run, {"confirmations": args.confirmations}))
                print(json.dumps(rows[-1]), flush=True)
    finally:
        slot.pull()
        slot.release()
        stop_pcscd(started)
    print(f"\nPIN accepted → receipt, ms (confirmations {args.confirmations})")
    print(
        f"{'chain':<20} {'n':>3}" + "".join(f" {s + ' p50':>12} {s + ' p95':>12}" for s in SEGMENTS)
    )
    for r in rows:
        cells = "".join(f" {r[f'{s}_p50_ms']:>12} {r[f'{s}_p95_ms']:>12}" for s in SEGMENTS)
        print(f"{r['chain']:<20} {r['voters']:>3}{cells}")


if __name__ == "__main__":
    main()
