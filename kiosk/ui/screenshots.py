"""Render every screen of the kiosk in both languages to PNG, offscreen.

    python -m kiosk.ui.screenshots docs/kiosk [--size 1280x800]

The window is the real one, on a real session over a BallotBox on the embedded chain; each
screen is shown with the view the session would give it (a receipt with a real-looking
tracking code, a PIN screen before the last try, …). No card, registrar or network is used.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from election.ballot import tracking_code
from election.manifest import Manifest, manifest_from_dict
from election.primitives import blind_rsa
from kiosk.core.casting import CheckedBallot, Receipt
from kiosk.core.jobs import InlineExecutor
from kiosk.core.outbox import Outbox
from kiosk.core.session import HelpDeskReason, Refusal, Services, Session, State, View
from kiosk.testing import TEST_MANIFEST, FakeClock, embedded_election, test_manifest
from kiosk.ui.text import LANGUAGES
from kiosk.ui.window import KioskWindow, UiOptions
from registrar.client import RegistrarClient


def _views() -> list[tuple[str, View]]:
    # Fixed codes, so that the PNGs change only when the screens do.
    code = tracking_code(hashlib.sha256(b"ippyo screenshot: cast").digest())
    checked = tracking_code(hashlib.sha256(b"ippyo screenshot: checked").digest())
    return [
        ("01-welcome", View(State.WELCOME)),
        ("02-insert-card", View(State.INSERT_CARD)),
        ("03-insert-card-not-my-number", View(State.INSERT_CARD, card_error="not_jpki")),
        ("04-insert-card-unreadable", View(State.INSERT_CARD, card_error="unreadable")),
        ("05-pin", View(State.PIN, tries_left=5)),
        (
            "06-pin-last-try",
            View(State.PIN, tries_left=1, last_try_warning=True, pin_error="wrong_pin"),
        ),
        ("07-help-locked", View(State.HELP_DESK, help_desk=HelpDeskReason.LOCKED)),
        ("08-help-forgotten", View(State.HELP_DESK, help_desk=HelpDeskReason.FORGOTTEN)),
        ("09-checking", View(State.CHECKING)),
        (
            "10-refused-other-municipality",
            View(State.REFUSED, refusal=Refusal("other_municipality")),
        ),
        ("11-refused-expired", View(State.REFUSED, refusal=Refusal("expired"))),
        ("12-already-voted", View(State.ALREADY_VOTED)),
        ("13-ballot", View(State.BALLOT)),
        ("14-ballot-revote", View(State.BALLOT, replaces_earlier=True)),
        ("15-review", View(State.REVIEW, choices={"mayor": ["suzuki"]})),
        (
            "16-cast-or-check",
            View(State.CAST_OR_CHECK, choices={"mayor": ["suzuki"]}, tracking_code=code),
        ),
        ("17-sending", View(State.SENDING)),
        (
            "18-receipt",
            View(State.RECEIPT, receipt=Receipt(code, bytes(32), bytes(32), 1234, 1)),
        ),
        (
            "19-checked",
            View(State.CHECKED, checked=CheckedBallot(checked, b"", b"", 1233)),
        ),
        ("20-queued", View(State.QUEUED, tracking_code=code)),
        (
            "21-out-of-service",
            View(State.OUT_OF_SERVICE, error="ChainUnavailable: no node answered"),
        ),
        ("22-remove-card", View(State.REMOVE_CARD)),
    ]


def _save(window: KioskWindow, path: Path) -> None:
    """A 256-colour PNG: a third of the size, and text stays sharp (no dithering)."""
    image = window.grab().toImage()
    small = image.convertToFormat(
        QImage.Format.Format_Indexed8,
        Qt.ImageConversionFlag.AvoidDither | Qt.ImageConversionFlag.ThresholdDither,
    )
    small.save(str(path))  # PNG, from the suffix


COUNCIL_MANIFEST: dict[str, Any] = {
    **TEST_MANIFEST,
    "id": "kiosk-test-council-2026",
    "contests": [
        *TEST_MANIFEST["contests"],
        {
            "id": "council",
            "title": {"ja": "市議会議員選挙", "en": "City council"},
            "min": 0,
            "max": 2,
            "options": [
                {"id": "ito", "name": {"ja": "伊藤 誠", "en": "Makoto Ito"}},
                {"id": "kato", "name": {"ja": "加藤 恵", "en": "Megumi Kato"}},
                {"id": "mori", "name": {"ja": "森 健太", "en": "Kenta Mori"}},
            ],
        },
    ],
}
"""A ballot with two contests, one of them "choose up to two" (screenshots and tests)."""


def _window(manifest: Manifest, outbox: Path, width: int, height: int) -> KioskWindow:
    key = blind_rsa.generate_key(2048).public_key
    election = embedded_election(manifest, key)
    session = Session(
        Services(
            kiosk_id="kiosk-screenshots",
            context=election.context,
            open_card=lambda: (_ for _ in ()).throw(RuntimeError("no card here")),
            registrar=RegistrarClient("http://127.0.0.1:9", "kiosk-screenshots", "unused"),
            box=election.box,
            sender=election.kiosk,
            outbox=Outbox(outbox),
            executor=InlineExecutor(),
            clock=FakeClock(),
        )
    )
    window = KioskWindow(session, UiOptions("https://observer.example.jp", printer="pdf"))
    window.resize(width, height)
    window.show()
    window.reader_event = "inserted"  # as if a card were in the reader throughout
    return window


def render_all(out: Path, width: int = 1280, height: int = 800) -> list[Path]:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    written: list[Path] = []
    out.mkdir(parents=True, exist_ok=True)

    def shot(window: KioskWindow, name: str) -> None:
        app.processEvents()
        path = out / f"{name}.png"
        _save(window, path)
        written.append(path)

    with tempfile.TemporaryDirectory() as tmp:
        window = _window(test_manifest(), Path(tmp) / "outbox", width, height)
        for lang in LANGUAGES:
            for name, view in _views():
                window.display(view)
                window.set_language(lang)
                if view.state is State.BALLOT and not view.replaces_earlier:
                    ballot = window.screens[State.BALLOT]
                    ballot.options["mayor"]["suzuki"].click()  # type: ignore[attr-defined]
                shot(window, f"{name}-{lang.value}")
        # High contrast and large text, once each language.
        window.set_large(True)
        window.set_contrast(True)
        for lang in LANGUAGES:
            window.display(View(State.PIN, tries_left=4, pin_error="wrong_pin"))
            window.set_language(lang)
            shot(window, f"30-pin-large-contrast-{lang.value}")
        window.shutdown()
        window.close()
        # Two contests: the maximum reached, then an undervote said before going on.
        window = _window(manifest_from_dict(COUNCIL_MANIFEST), Path(tmp) / "outbox2", width, height)
        for lang in LANGUAGES:
            window.display(View(State.WELCOME))
            window.display(View(State.BALLOT))
            window.set_language(lang)
            ballot = window.screens[State.BALLOT]
            options = ballot.options  # type: ignore[attr-defined]
            for contest, option in (("mayor", "sato"), ("council", "ito"), ("council", "kato")):
                options[contest][option].click()
            options["council"]["mori"].click()  # a third of two: refused, said so
            shot(window, f"31-ballot-two-contests-full-{lang.value}")
            options["council"]["kato"].click()
            ballot.submit()  # type: ignore[attr-defined]
            shot(window, f"32-ballot-undervote-{lang.value}")
        window.shutdown()
        window.close()
    return written


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if args else 2
    width, height = 1280, 800
    if "--size" in args:
        i = args.index("--size")
        width, height = (int(n) for n in args[i + 1].split("x"))
        del args[i : i + 2]
    for path in render_all(Path(args[0]), width, height):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
