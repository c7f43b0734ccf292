"""What a kiosk reports to the officials' dashboard: counts and states, never who."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ReaderState(enum.Enum):
    NO_READER = "no_reader"
    EMPTY = "empty"
    CARD = "card"
    UNREADABLE = "unreadable"


@dataclass(frozen=True, slots=True)
class KioskHealth:
    """A snapshot. Counters only: no token, no certificate, no time of any one voter."""

    kiosk_id: str
    alive_at: float
    """The kiosk clock when this snapshot was taken (monotonic seconds)."""
    reader: ReaderState
    outbox_depth: int
    """Signed cast transactions not yet confirmed."""
    wrong_pin: int
    locked: int
    forgotten_pin: int
    refused: int
    ballots_cast: int
    ballots_checked: int


@dataclass(slots=True)
class HealthCounters:
    """The session's running counts; :meth:`snapshot` makes the report."""

    reader: ReaderState = ReaderState.EMPTY
    wrong_pin: int = 0
    locked: int = 0
    forgotten_pin: int = 0
    refused: int = 0
    ballots_cast: int = 0
    ballots_checked: int = 0

    def snapshot(self, kiosk_id: str, now: float, outbox_depth: int) -> KioskHealth:
        return KioskHealth(
            kiosk_id,
            now,
            self.reader,
            outbox_depth,
            self.wrong_pin,
            self.locked,
            self.forgotten_pin,
            self.refused,
            self.ballots_cast,
            self.ballots_checked,
        )
