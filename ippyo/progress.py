"""A one-line progress bar on stderr (only when stderr is a terminal, or when asked)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """``stage(label, total)`` then ``update(done)``; ``done()`` ends the line.

    Disabled, every call is a no-op, so callers need no ``if``.
    """

    WIDTH = 30

    def __init__(self, enabled: bool, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.label = ""
        self.total = 0
        self._last = 0.0
        self._open = False

    def stage(self, label: str, total: int = 0) -> None:
        if not self.enabled:
            return
        self.done()
        self.label, self.total = label, total
        self._draw(0, force=True)

    def update(self, done: int, total: int | None = None) -> None:
        if not self.enabled:
            return
        if total is not None:
            self.total = total
        self._draw(done, force=done >= self.total)

    def _draw(self, done: int, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        if self.total > 0:
            frac = min(max(done / self.total, 0.0), 1.0)
            filled = int(frac * self.WIDTH)
            bar = "#" * filled + "." * (self.WIDTH - filled)
            line = f"[{bar}] {done}/{self.total} {self.label}"
        else:
            line = f"[{'.' * self.WIDTH}] {self.label}"
        self.stream.write("\r\x1b[2K" + line if self.stream.isatty() else line + "\n")
        self.stream.flush()
        self._open = self.stream.isatty()

    def done(self) -> None:
        if self.enabled and self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False
