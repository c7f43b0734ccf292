"""The progress bar: silent when disabled; one line per update on a pipe; redrawn in place
(carriage return) on a terminal."""

from __future__ import annotations

import io

from ippyo.progress import Progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_disabled_bar_writes_nothing() -> None:
    out = io.StringIO()
    bar = Progress(False, out)
    bar.stage("ballots", 10)
    bar.update(10)
    bar.done()
    assert out.getvalue() == ""


def test_bar_on_a_pipe_and_on_a_terminal() -> None:
    pipe = io.StringIO()
    bar = Progress(True, pipe)
    bar.stage("ballots", 4)
    bar.update(4)
    lines = pipe.getvalue().splitlines()
    assert lines[0] == "[" + "." * 30 + "] 0/4 ballots"
    assert lines[-1] == "[" + "#" * 30 + "] 4/4 ballots"
    tty = _Tty()
    bar = Progress(True, tty)
    bar.stage("proofs", 2)
    bar.update(1)  # within 0.1 s of the last draw: skipped
    bar.update(2)
    bar.done()
    text = tty.getvalue()
    assert text.startswith("\r\x1b[2K[") and text.endswith("2/2 proofs\n")
    assert "\n" not in text[:-1]
