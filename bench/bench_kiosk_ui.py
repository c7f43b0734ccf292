"""Benchmark: the longest stall of the kiosk window's event loop during whole votes.

    .venv/bin/python bench/bench_kiosk_ui.py [--votes 3]

The real window (offscreen) on the real parts: pcscd + vpcd + the virtual card (reader
``Virtual PCD 00 01``, served by its own process), the registrar service over HTTP on
127.0.0.1 (in its own process, as it would be in production), the BallotBox on the embedded
chain (in the kiosk's process: py-evm competes for the GIL, which a real node would not).
A voter thread inserts the card and presses the window's buttons (each press is posted to the
UI thread, as a tap would be); a 5 ms QTimer on the UI thread records when it actually fires.
A *stall* is a gap between two firings beyond the 5 ms asked for: the time the window could
not have answered a tap or repainted. Goal: the longest stall < 100 ms.

Prints one JSON line per vote and a summary; never fails on a figure.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QAbstractButton, QApplication

from card_reader.pcsc import wait_for_reader_state
from card_reader.stack import ensure_pcscd, stop_pcscd
from election.primitives.blind_rsa import RSAPublicKey
from kiosk.core.session import State
from kiosk.testing import (
    ReaderSlot,
    embedded_election,
    make_session,
    new_resident,
    registrar_service,
    test_manifest,
)
from kiosk.ui.reader import pcsc_probe
from kiosk.ui.window import KioskWindow, QtDeliver, UiOptions, ui_executor
from registrar.client import RegistrarClient

TICK_MS = 5
PIN = "ABC123"


class StallMeter:
    """A UI-thread timer; ``gaps`` are (stall in ms, window state when it ended)."""

    def __init__(self, window: KioskWindow) -> None:
        self.window = window
        self.gaps: list[tuple[float, str]] = []
        self.last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.gaps.clear()
        self.last = time.perf_counter()
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        stall = (now - self.last) * 1000 - TICK_MS
        self.gaps.append((max(0.0, stall), self.window.state.value))
        self.last = now

    def stop(self) -> list[tuple[float, str]]:
        self.timer.stop()
        return list(self.gaps)


class Voter(threading.Thread):
    """Stands at the kiosk: inserts the card (off the UI thread, as a hand would) and taps."""

    def __init__(self, window: KioskWindow, card: ServedCard) -> None:
        super().__init__(daemon=True)
        self.window = window
        self.card = card
        self.post = QtDeliver()  # created on the UI thread: posts run there
        self.marks: dict[str, float] = {}
        self.error: BaseException | None = None

    def wait(self, state: State, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self.window.state is not state:
            if time.monotonic() > deadline:
                raise TimeoutError(f"stuck on {self.window.state.value}, waiting for {state.value}")
            time.sleep(0.002)

    def tap(self, screen: State, name: str) -> None:
        widget = getattr(self.window.screens[screen], name)
        assert isinstance(widget, QAbstractButton)
        self.post(widget.click)

    def run(self) -> None:
        try:
            self._vote()
        except BaseException as exc:  # reported by the main thread
            self.error = exc

    def _vote(self) -> None:
        self.card.insert()
        self.wait(State.PIN)
        pin = self.window.screens[State.PIN]
        for char in PIN:
            self.post(pin.keys[char].click)  # type: ignore[attr-defined]
            time.sleep(0.05)  # a quick typist
        self.marks["pin_ok"] = time.perf_counter()
        self.tap(State.PIN, "ok")
        self.wait(State.BALLOT)
        ballot = self.window.screens[State.BALLOT]
        self.post(ballot.options["mayor"]["suzuki"].click)  # type: ignore[attr-defined]
        time.sleep(0.2)
        self.tap(State.BALLOT, "next")
        self.wait(State.REVIEW)
        self.tap(State.REVIEW, "confirm")
        self.wait(State.CAST_OR_CHECK)
        self.tap(State.CAST_OR_CHECK, "cast")
        self.wait(State.RECEIPT)
        self.marks["receipt"] = time.perf_counter()
        self.tap(State.RECEIPT, "finish")
        self.wait(State.REMOVE_CARD)
        self.card.pull()
        self.wait(State.WELCOME)


def _registrar_child(directory: str, votes: int, conn: Connection) -> None:
    """The registrar service in its own process (as in production: not in the kiosk's), with
    the card images of ``votes`` fresh voters made by its test CA."""
    with registrar_service(Path(directory), test_manifest()) as live:
        images = [live.card(new_resident()).to_image() for _ in range(votes)]
        key = live.public_key
        conn.send((live.client.base_url, live.client.kiosk_id, live.client.secret, key.n, key.e))
        conn.send(images)
        conn.recv()  # until the parent is done


class ServedCard:
    """A card image served to vpcd by its own process (``python -m card_reader.serve``)."""

    def __init__(self, image: dict[str, object], directory: Path, slot: ReaderSlot) -> None:
        self.path = directory / f"card-{secrets.token_hex(4)}.json"
        self.path.write_text(json.dumps(image), "utf-8")
        self.slot = slot
        self.proc: subprocess.Popen[bytes] | None = None

    def insert(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "card_reader.serve", str(self.path), str(self.slot.index)],
            stdin=subprocess.DEVNULL,
        )
        wait_for_reader_state(self.slot.reader, True, 10.0)

    def pull(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None
            wait_for_reader_state(self.slot.reader, False, 10.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--votes", type=int, default=3)
    args = parser.parse_args()
    sys.setswitchinterval(0.001)  # as `ippyo kiosk run` does: the UI thread waits less
    app = QApplication.instance() or QApplication([])
    started = ensure_pcscd()
    slot = ReaderSlot()
    results: list[dict[str, Any]] = []
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    with tempfile.TemporaryDirectory() as tmp:
        registrar_proc = ctx.Process(
            target=_registrar_child, args=(str(Path(tmp) / "registrar"), args.votes, child)
        )
        registrar_proc.start()
        try:
            url, kiosk_id, secret, n, e = parent.recv()
            images = parent.recv()
            client = RegistrarClient(url, kiosk_id, secret)
            election = embedded_election(test_manifest(), RSAPublicKey(n, e))
            executor = ui_executor()
            session = make_session(election, client, slot, Path(tmp) / "outbox", executor=executor)
            window = KioskWindow(
                session, UiOptions("http://127.0.0.1:9"), reader_probe=pcsc_probe(slot.reader)
            )
            window.resize(1280, 800)
            window.show()
            warm_until = time.monotonic() + 1.0  # first paint, fonts: start-up, not a vote
            while time.monotonic() < warm_until:
                app.processEvents()
                time.sleep(0.005)
            meter = StallMeter(window)
            for n_vote, image in enumerate(images):
                card = ServedCard(image, Path(tmp), slot)
                voter = Voter(window, card)
                meter.start()
                voter.start()
                while voter.is_alive():
                    app.processEvents()
                    time.sleep(0.001)
                gaps = meter.stop()
                card.pull()
                if voter.error is not None:
                    raise voter.error
                stalls = sorted((g for g, _ in gaps), reverse=True)
                worst, where = max(gaps)
                row = {
                    "vote": n_vote + 1,
                    "longest_stall_ms": round(worst, 1),
                    "stall_screen": where,
                    "p99_stall_ms": round(stalls[len(stalls) // 100], 1),
                    "stalls_over_50ms": sum(1 for g in stalls if g > 50),
                    "ticks": len(gaps),
                    "pin_ok_to_receipt_ms": round(
                        (voter.marks["receipt"] - voter.marks["pin_ok"]) * 1000, 1
                    ),
                }
                results.append(row)
                print(json.dumps(row), flush=True)
            window.shutdown()
            executor.wait_idle()
            executor.shutdown()
        finally:
            parent.send("done")
            registrar_proc.join(timeout=20)
            stop_pcscd(started)
    worst_all = max(r["longest_stall_ms"] for r in results)
    median_worst = statistics.median(r["longest_stall_ms"] for r in results)
    median_vote = statistics.median(r["pin_ok_to_receipt_ms"] for r in results)
    print(
        f"\nlongest UI stall over {len(results)} votes: {worst_all:.1f} ms "
        f"(goal < 100 ms: {'met' if worst_all < 100 else 'NOT met'}); "
        f"median per-vote worst {median_worst:.1f} ms; PIN OK -> receipt through the window, "
        f"median {median_vote:.0f} ms (embedded chain, 1 confirmation)"
    )


if __name__ == "__main__":
    main()
