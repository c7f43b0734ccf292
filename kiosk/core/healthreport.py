"""Sending the kiosk's health to the tally server for the officials' dashboard.

``POST {tally_url}/api/v1/kiosks/<kiosk id>/health`` with ``Authorization: Bearer <kiosk
secret>`` and a JSON body of counters and states only (see ``KioskHealth``)::

    {"reader": "card", "outbox_depth": 0, "wrong_pin": 1, "locked": 0, "forgotten_pin": 0,
     "refused": 0, "ballots_cast": 12, "ballots_checked": 1}

The server answers 204 and stamps the time it received the report; 401
``bad_kiosk_credentials``; 400 ``bad_health_report``.

A report that cannot be delivered never disturbs the voter: :meth:`HealthReporter.report_once`
never raises; it returns and logs (without the secret) a named outcome, and the next interval
simply tries again.
"""

from __future__ import annotations

import logging
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from kiosk.core.health import KioskHealth

log = logging.getLogger("ippyo.kiosk.health")

DELIVERED = "delivered"
UNREACHABLE = "tally_unreachable"
TIMEOUT = "tally_timeout"
SNAPSHOT_FAILED = "snapshot_failed"


def report_body(health: KioskHealth) -> dict[str, Any]:
    """The JSON body: counters and the reader's state. No kiosk clock, token, name or time."""
    return {
        "reader": health.reader.value,
        "outbox_depth": health.outbox_depth,
        "wrong_pin": health.wrong_pin,
        "locked": health.locked,
        "forgotten_pin": health.forgotten_pin,
        "refused": health.refused,
        "ballots_cast": health.ballots_cast,
        "ballots_checked": health.ballots_checked,
    }


@dataclass(frozen=True)
class ReportOutcome:
    code: str
    """``delivered``, the server's error code (``bad_kiosk_credentials``,
    ``bad_health_report``, or ``http_<status>``), ``tally_unreachable``, ``tally_timeout`` or
    ``snapshot_failed``."""
    status: int | None = None

    @property
    def delivered(self) -> bool:
        return self.code == DELIVERED


class HealthReporter:
    """Posts ``snapshot()`` every ``interval`` seconds on a daemon thread (:meth:`start`), or
    once (:meth:`report_once`)."""

    def __init__(
        self,
        snapshot: Callable[[], KioskHealth],
        tally_url: str,
        kiosk_id: str,
        secret: str,
        *,
        interval: float = 30.0,
        timeout: float = 5.0,
    ) -> None:
        if interval <= 0 or timeout <= 0:
            raise ValueError("interval and timeout must be positive")
        self._snapshot = snapshot
        self.url = (
            tally_url.rstrip("/")
            + "/api/v1/kiosks/"
            + urllib.parse.quote(kiosk_id, safe="")
            + "/health"
        )
        self._headers = {"Authorization": f"Bearer {secret}"}
        self.interval = interval
        self.timeout = timeout
        self._http = requests.Session()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last: ReportOutcome | None = None

    def report_once(self) -> ReportOutcome:
        """Send one report. Never raises: the outcome is returned, kept in :attr:`last` and, if
        the report was not delivered, logged as a warning by name."""
        outcome = self._send()
        self.last = outcome
        if not outcome.delivered:
            log.warning("kiosk health report not delivered: %s", outcome.code)
        return outcome

    def report(self, health: KioskHealth) -> ReportOutcome:
        """Send this snapshot (taken by the caller, e.g. on the window's thread). Never raises;
        like :meth:`report_once`, the outcome is kept in :attr:`last` and a failure logged."""
        outcome = self._post(report_body(health))
        self.last = outcome
        if not outcome.delivered:
            log.warning("kiosk health report not delivered: %s", outcome.code)
        return outcome

    def _send(self) -> ReportOutcome:
        try:
            body = report_body(self._snapshot())
        except Exception:
            return ReportOutcome(SNAPSHOT_FAILED)
        return self._post(body)

    def _post(self, body: dict[str, Any]) -> ReportOutcome:
        try:
            response = self._http.post(
                self.url, json=body, headers=self._headers, timeout=self.timeout
            )
        except requests.Timeout:
            return ReportOutcome(TIMEOUT)
        except requests.RequestException:
            return ReportOutcome(UNREACHABLE)
        if response.status_code in (200, 204):
            return ReportOutcome(DELIVERED, response.status_code)
        return ReportOutcome(_error_code(response), response.status_code)

    # --- periodic -------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="kiosk-health", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.report_once()
            self._stop.wait(self.interval)

    def stop(self, timeout: float | None = None) -> None:
        """Stop the periodic reports (waits for a report in flight, at most its timeout)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(self.timeout + 1.0 if timeout is None else timeout)
        self._http.close()


def _error_code(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        code: str = data["error"]
        if code.isidentifier() and len(code) <= 64:
            return code
    return f"http_{response.status_code}"
