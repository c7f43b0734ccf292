"""Watch the card reader on a thread of its own and report changes (no Qt here).

pcscd is asked (with no wait) every ``interval`` seconds whether the reader holds a card;
``on_change`` gets ``"inserted"``, ``"removed"`` or ``"no_reader"`` whenever the answer
changes (the first answer counts as a change, so a card already in the reader at start is
reported). The window binds ``on_change`` to a queued Qt signal.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from card_reader.pcsc import reader_has_card

Probe = Callable[[], "bool | None"]


def pcsc_probe(reader: str) -> Probe:
    return lambda: reader_has_card(reader)


class ReaderWatcher:
    def __init__(
        self, probe: Probe, on_change: Callable[[str], None], interval: float = 0.15
    ) -> None:
        self._probe = probe
        self._on_change = on_change
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="card-watcher", daemon=True)
        self.last: str | None = None

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                present = self._probe()
            except Exception:  # pcscd going away mid-call: treat as no reader
                present = None
            event = "no_reader" if present is None else ("inserted" if present else "removed")
            if event != self.last:
                self.last = event
                self._on_change(event)
            self._stop.wait(self._interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
