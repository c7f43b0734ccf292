"""The kiosk's health report to the tally server (the officials' dashboard). No Qt.

``POST {tally_url}/api/v1/kiosks/<kiosk_id>/health`` with ``Authorization: Bearer <secret>``
and the counters of :class:`~kiosk.core.health.KioskHealth` — reader state, outbox depth and
counts since the kiosk started; never a token, a name or the time of any one voter (the
server stamps the time it received the report). Answers: 204; 401 ``bad_kiosk_credentials``;
400 ``bad_health_report``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests

from kiosk.core.health import KioskHealth


class HealthReportError(Exception):
    code = "health_report_failed"


class BadKioskCredentials(HealthReportError):
    code = "bad_kiosk_credentials"


class BadHealthReport(HealthReportError):
    code = "bad_health_report"


class TallyUnreachable(HealthReportError):
    code = "tally_unreachable"


def health_body(health: KioskHealth) -> dict[str, Any]:
    """Exactly the agreed fields (``kiosk_id`` is in the URL, the time is the server's)."""
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


@dataclass
class HealthReporter:
    tally_url: str
    kiosk_id: str
    secret: str = field(repr=False)
    timeout: float = 5.0

    @property
    def url(self) -> str:
        return f"{self.tally_url.rstrip('/')}/api/v1/kiosks/{quote(self.kiosk_id, safe='')}/health"

    def send(self, health: KioskHealth) -> None:
        try:
            response = requests.post(
                self.url,
                json=health_body(health),
                headers={"Authorization": f"Bearer {self.secret}"},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise TallyUnreachable(f"{self.url}: {type(exc).__name__}") from exc
        if response.status_code == 204:
            return
        try:
            message = str(response.json().get("message_en", ""))
        except ValueError:
            message = response.text[:200]
        if response.status_code == 401:
            raise BadKioskCredentials(message or "the tally server refused this kiosk's secret")
        if response.status_code == 400:
            raise BadHealthReport(message or "the tally server refused the report")
        raise HealthReportError(f"unexpected answer {response.status_code}: {message}")
