"""The kiosk window's fixtures: the real window, offscreen, on pcscd + the virtual card, the
registrar service over HTTP and the embedded chain (the fixtures of ``tests/kiosk``)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import gc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from card_reader.testpki import VoterCard
from kiosk.core.jobs import ThreadExecutor
from kiosk.core.session import Session, State
from kiosk.testing import (
    EmbeddedElection,
    FakeClock,
    LiveRegistrar,
    ReaderSlot,
    RecordingApplet,
    make_session,
    new_resident,
)
from kiosk.ui.reader import pcsc_probe
from kiosk.ui.window import KioskWindow, UiOptions, ui_executor

OBSERVER = "http://127.0.0.1:9/observer"
PIN = "ABC123"


@dataclass
class Kiosk:
    """The window under test and the hands of a voter standing at it."""

    window: KioskWindow
    session: Session
    slot: ReaderSlot
    clock: FakeClock
    qtbot: QtBot
    registrar: LiveRegistrar
    states: list[State] = field(default_factory=list)

    @property
    def state(self) -> State:
        return self.window.state

    def wait(self, state: State, timeout: int = 30_000) -> None:
        self.qtbot.waitUntil(lambda: self.window.state is state, timeout=timeout)

    def new_card(self) -> VoterCard:
        return self.registrar.card(new_resident())

    def insert(self, card: VoterCard | None = None) -> RecordingApplet:
        return self.slot.insert(card or self.new_card())

    def pull(self) -> None:
        self.slot.pull()
        self.wait(State.WELCOME)

    def click(self, widget: object) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtWidgets import QWidget

        assert isinstance(widget, QWidget)
        assert widget.isVisible() and widget.isEnabled(), widget
        self.qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)

    def type_pin_on_screen(self, pin: str) -> None:
        screen = self.window.screens[State.PIN]
        for char in pin:
            self.click(screen.keys[char])  # type: ignore[attr-defined]
        self.click(screen.ok)  # type: ignore[attr-defined]

    def type_pin_on_keyboard(self, pin: str) -> None:
        from PySide6.QtCore import Qt

        field_ = self.window.screens[State.PIN].field  # type: ignore[attr-defined]
        field_.setFocus()
        self.qtbot.keyClicks(field_, pin)
        self.qtbot.keyClick(field_, Qt.Key.Key_Return)

    def to_ballot(self, card: VoterCard | None = None) -> RecordingApplet:
        applet = self.insert(card)
        self.wait(State.PIN)
        self.type_pin_on_screen(PIN)
        self.wait(State.BALLOT)
        return applet

    def pick(self, contest: str, option: str) -> None:
        self.click(self.window.screens[State.BALLOT].options[contest][option])  # type: ignore[attr-defined]


@pytest.fixture
def make_kiosk(
    qtbot: QtBot,
    election: EmbeddedElection,
    registrar: LiveRegistrar,
    slot: ReaderSlot,
    tmp_path: Path,
) -> Iterator[Callable[..., Kiosk]]:
    made: list[tuple[KioskWindow, ThreadExecutor]] = []

    def make(
        *,
        election_: EmbeddedElection | None = None,
        registrar_: LiveRegistrar | None = None,
        printer: str = "pdf",
        probe: bool = True,
    ) -> Kiosk:
        executor = ui_executor()
        clock = FakeClock()
        live = registrar_ or registrar
        session = make_session(
            election_ or election,
            live.client,
            slot,
            tmp_path / f"outbox{len(made)}",
            executor=executor,
            clock=clock,
        )
        window = KioskWindow(
            session,
            UiOptions(OBSERVER, printer=printer, pdf_dir=tmp_path / "receipts", tick_ms=50),
            reader_probe=pcsc_probe(slot.reader) if probe else None,
        )
        qtbot.addWidget(window)
        window.resize(1280, 800)
        window.show()
        made.append((window, executor))
        kiosk = Kiosk(window, session, slot, clock, qtbot, live)
        session.subscribe(lambda view: kiosk.states.append(view.state))
        return kiosk

    yield make
    for window, executor in made:
        window.shutdown()
        executor.wait_idle()
        executor.shutdown()
    gc.collect()


@pytest.fixture
def kiosk(make_kiosk: Callable[..., Kiosk]) -> Kiosk:
    return make_kiosk()
