"""Render every screen of the kiosk in both languages to PNG, offscreen.

    python -m kiosk.ui.screenshots docs/kiosk [--size 1280x800]

The window is the real one, on a real session over a BallotBox on the embedded chain; each
screen is shown with the view the session would give it (a receipt with a real-looking
tracking code, a PIN screen before the last try, …). No card, registrar or network is used.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from election.ballot import tracking_code
from election.primitives import blind_rsa
from kiosk.core.casting import CheckedBallot, Receipt
from kiosk.core.jobs import InlineExecutor
from kiosk.core.outbox import Outbox
from kiosk.core.session import HelpDeskReason, Refusal, Services, Session, State, View
from kiosk.testing import FakeClock, embedded_election, test_manifest
from kiosk.ui.text import LANGUAGES
from kiosk.ui.window import KioskWindow, UiOptions
from registrar.client import RegistrarClient


def _views() -> list[tuple[str, View]]:
    code = tracking_code(secrets.token_bytes(32))
    checked = tracking_code(secrets.token_bytes(32))
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


def render_all(out: Path, width: int = 1280, height: int = 800) -> list[Path]:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    manifest = test_manifest()
    key = blind_rsa.generate_key(2048).public_key
    election = embedded_election(manifest, key)
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        session = Session(
            Services(
                kiosk_id="kiosk-screenshots",
                context=election.context,
                open_card=lambda: (_ for _ in ()).throw(RuntimeError("no card here")),
                registrar=RegistrarClient("http://127.0.0.1:9", "kiosk-screenshots", "unused"),
                box=election.box,
                sender=election.kiosk,
                outbox=Outbox(Path(tmp) / "outbox"),
                executor=InlineExecutor(),
                clock=FakeClock(),
            )
        )
        window = KioskWindow(session, UiOptions("https://observer.example.jp", printer="pdf"))
        window.resize(width, height)
        window.show()
        out.mkdir(parents=True, exist_ok=True)
        window.reader_event = "inserted"  # as if a card were in the reader throughout
        for lang in LANGUAGES:
            for name, view in _views():
                window.display(view)
                window.set_language(lang)
                if view.state is State.BALLOT and not view.replaces_earlier:
                    ballot = window.screens[State.BALLOT]
                    ballot.options["mayor"]["suzuki"].click()  # type: ignore[attr-defined]
                app.processEvents()
                path = out / f"{name}-{lang.value}.png"
                _save(window, path)
                written.append(path)
        # High contrast and large text, once each language.
        window.set_large(True)
        window.set_contrast(True)
        for lang in LANGUAGES:
            window.display(View(State.PIN, tries_left=4, pin_error="wrong_pin"))
            window.set_language(lang)
            app.processEvents()
            path = out / f"30-pin-large-contrast-{lang.value}.png"
            _save(window, path)
            written.append(path)
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
