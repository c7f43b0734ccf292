"""Test runs in different processes take a vpcd slot in turn (kiosk.testing.ReaderSlot)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kiosk.testing import ReaderSlot

HOLD = """
import sys, time
from kiosk.testing import ReaderSlot
slot = ReaderSlot(index=int(sys.argv[1]))
slot.acquire()
print("held", flush=True)
sys.stdin.readline()
slot.release()
"""


def test_a_slot_held_by_another_process_is_waited_for() -> None:
    index = 7  # no such vpcd reader: only the lock is exercised
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(index)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        mine = ReaderSlot(index=index)
        with pytest.raises(TimeoutError, match="vpcd slot 7 busy"):
            mine.acquire(timeout=0.5)
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(timeout=30) == 0
        mine.acquire(timeout=10)  # free now
        mine.release()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
