"""The kiosk's full-screen window: it drives :class:`~kiosk.core.session.Session` and shows
each :class:`~kiosk.core.session.View` on the screen for its state.

Nothing here blocks: card, registrar and chain calls are the session's jobs on a
:class:`~kiosk.core.jobs.ThreadExecutor` whose ``deliver`` is :class:`QtDeliver` (a queued
signal), so every callback — and so every state change — runs on the UI thread. The card
reader is watched on a thread of its own (:mod:`kiosk.ui.reader`) whose events arrive through
another queued signal. A ``QTimer`` ticks the inactivity timeout.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent, QKeyEvent
from PySide6.QtPrintSupport import QPrinter
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from election.errors import InvalidBallot
from election.manifest import Manifest
from kiosk.core.jobs import ThreadExecutor
from kiosk.core.session import InvalidTransition, Session, State, View
from kiosk.ui import qr
from kiosk.ui.reader import Probe, ReaderWatcher
from kiosk.ui.screens import BallotScreen, Screen, build_screens
from kiosk.ui.style import TOUCH_PX, stylesheet
from kiosk.ui.text import Lang, tr

log = logging.getLogger(__name__)

_INPUT_EVENTS = {
    QEvent.Type.KeyPress,
    QEvent.Type.MouseButtonPress,
    QEvent.Type.TouchBegin,
    QEvent.Type.Wheel,
}


class QtDeliver(QObject):
    """``ThreadExecutor``'s ``deliver``: hands a callback from a worker thread to the thread
    this object lives in (the UI thread) through a queued signal."""

    _delivered = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self._delivered.connect(self._run, Qt.ConnectionType.QueuedConnection)

    def __call__(self, callback: Callable[[], None]) -> None:
        self._delivered.emit(callback)

    @Slot(object)
    def _run(self, callback: Callable[[], None]) -> None:
        callback()


def ui_executor(workers: int = 2) -> ThreadExecutor:
    """A ThreadExecutor whose outcomes run on the Qt UI thread (create after QApplication)."""
    return ThreadExecutor(workers=workers, deliver=QtDeliver())


@dataclass
class UiOptions:
    observer_base_url: str
    language: Lang = Lang.JA
    printer: str = "none"
    """``none``, ``pdf`` (into ``pdf_dir``) or ``system`` (the default printer)."""
    pdf_dir: Path | None = None
    tick_ms: int = 1000
    recover_ms: int = 30_000


class KioskWindow(QMainWindow):
    card_event = Signal(str)
    view_changed = Signal(object)

    def __init__(
        self, session: Session, options: UiOptions, *, reader_probe: Probe | None = None
    ) -> None:
        super().__init__()
        self.session = session
        self.options = options
        self.manifest: Manifest = session.services.context.manifest
        self.lang = options.language
        self.large = False
        self.contrast = False
        self.busy = False
        self.print_status = ""
        self.last_printed: Path | None = None
        self.reader_event: str | None = None
        self.view: View = session.view
        self.stall_hook: Callable[[], None] | None = None
        self._clock = session.services.clock
        self._last_input = self._clock()

        self.setWindowTitle(tr("window.title", self.lang))
        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        self.top_bar = self._top_bar()
        outer.addWidget(self.top_bar)
        self.stack = QStackedWidget()
        outer.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.screens: dict[State, Screen] = {}
        self.pages: dict[State, QScrollArea] = {}
        for screen in build_screens(self):
            # Each screen scrolls if it must (large text on a small display), never clips.
            page = QScrollArea()
            page.setWidgetResizable(True)
            page.setFrameShape(QFrame.Shape.NoFrame)
            page.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            page.setWidget(screen)
            self.screens[screen.state] = screen
            self.pages[screen.state] = page
            self.stack.addWidget(page)
        missing = set(State) - set(self.screens)
        if missing:  # pragma: no cover - a new state without a screen
            raise RuntimeError(f"no screen for {sorted(s.value for s in missing)}")

        self.view_changed.connect(self._on_view, Qt.ConnectionType.AutoConnection)
        self.card_event.connect(self._on_card, Qt.ConnectionType.QueuedConnection)
        session.subscribe(self.view_changed.emit)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)

        self._apply_style()
        self.display(self.view)
        first = self.current.first_focus()
        if first is not None:
            first.setFocus(Qt.FocusReason.OtherFocusReason)

        self.tick_timer = QTimer(self)
        self.tick_timer.timeout.connect(self._tick)
        self.tick_timer.start(options.tick_ms)
        self.recover_timer = QTimer(self)
        self.recover_timer.timeout.connect(self._recover_if_idle)
        self.recover_timer.start(options.recover_ms)
        session.recover()

        self.watcher: ReaderWatcher | None = None
        if reader_probe is not None:
            self.watcher = ReaderWatcher(reader_probe, self.card_event.emit)
            self.watcher.start()

    # --- the top bar: language, large text, high contrast --------------------------------------
    def _top_bar(self) -> QWidget:
        bar = QWidget()
        layout = QHBoxLayout(bar)
        layout.setContentsMargins(24, 8, 24, 0)
        layout.setSpacing(12)
        self.election_label = QLabel()
        self.election_label.setObjectName("election")
        self.election_label.setWordWrap(True)
        layout.addWidget(self.election_label, 1)
        self.lang_buttons: dict[Lang, QPushButton] = {}
        for lang in (Lang.JA, Lang.EN):
            button = self._toggle(self._language_setter(lang))
            button.setText(tr(f"lang.{lang.value}", lang))
            self.lang_buttons[lang] = button
            layout.addWidget(button)
        layout.addSpacing(24)
        self.large_button = self._toggle(lambda on: self.set_large(bool(on)))
        self.contrast_button = self._toggle(lambda on: self.set_contrast(bool(on)))
        layout.addWidget(self.large_button)
        layout.addWidget(self.contrast_button)
        return bar

    def _language_setter(self, lang: Lang) -> Callable[[bool], None]:
        return lambda _checked: self.set_language(lang)

    def _toggle(self, slot: Callable[[bool], None]) -> QPushButton:
        button = QPushButton()
        button.setCheckable(True)
        button.setMinimumSize(TOUCH_PX, TOUCH_PX)
        # Never narrower than its text (the election's name wraps instead).
        button.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed)
        button.clicked.connect(slot)
        return button

    def _retranslate_bar(self) -> None:
        for lang, button in self.lang_buttons.items():
            button.setChecked(lang is self.lang)
            button.setAccessibleName(tr(f"lang.{lang.value}.a11y", lang))
        self.large_button.setText(tr("large.on", self.lang))
        self.large_button.setAccessibleName(tr("large.a11y", self.lang))
        self.large_button.setChecked(self.large)
        self.contrast_button.setText(tr("contrast.on", self.lang))
        self.contrast_button.setAccessibleName(tr("contrast.a11y", self.lang))
        self.contrast_button.setChecked(self.contrast)
        m = self.manifest
        name = (
            f"{m.name_ja}　{m.municipality_ja}"
            if self.lang is Lang.JA
            else f"{m.name_en} — {m.municipality_en}"
        )
        self.election_label.setText(name)
        self.election_label.setAccessibleName(name)
        self.setWindowTitle(tr("window.title", self.lang))

    def set_language(self, lang: Lang) -> None:
        self.lang = lang
        self._render()

    def set_large(self, on: bool) -> None:
        self.large = on
        self._apply_style()
        self._render()

    def set_contrast(self, on: bool) -> None:
        self.contrast = on
        self._apply_style()
        self._render()

    def _apply_style(self) -> None:
        self.setStyleSheet(stylesheet(large=self.large, contrast=self.contrast))
        # The top bar keeps its size, so the switches stay where the voter found them.
        self.top_bar.setStyleSheet(stylesheet(large=False, contrast=self.contrast))

    def _reset_preferences(self) -> None:
        """A new voter starts with the kiosk's defaults."""
        self.lang = self.options.language
        if self.large or self.contrast:
            self.large = self.contrast = False
            self._apply_style()

    # --- showing views -------------------------------------------------------------------------
    @property
    def state(self) -> State:
        return self.view.state

    @property
    def current(self) -> Screen:
        return self.screens[self.view.state]

    @Slot(object)
    def _on_view(self, view: View) -> None:
        self.display(view)

    def display(self, view: View) -> None:
        previous = self.view.state
        self.view = view
        self.busy = False
        self._last_input = self._clock()
        state = view.state
        if state is State.WELCOME and previous not in (State.WELCOME, State.INSERT_CARD):
            self._reset_preferences()
        if state is State.WELCOME or (
            state is State.BALLOT and previous not in (State.REVIEW, State.CAST_OR_CHECK)
        ):
            ballot = self.screens[State.BALLOT]
            if isinstance(ballot, BallotScreen):
                ballot.clear()
        if state is not State.RECEIPT:
            self.print_status = ""
        screen, page = self.screens[state], self.pages[state]
        self._render()
        if self.stack.currentWidget() is not page:
            self.stack.setCurrentWidget(page)
            target = screen.first_focus()
            if target is not None:
                target.setFocus(Qt.FocusReason.OtherFocusReason)
        if state is State.REMOVE_CARD and self.reader_event != "inserted":
            # Nothing in the reader (an out-of-service screen without a card): go on at once.
            QTimer.singleShot(0, self._card_already_gone)

    def _render(self) -> None:
        self._retranslate_bar()
        self.current.show_view(self.view, self.lang)

    def _card_already_gone(self) -> None:
        if self.state is State.REMOVE_CARD and self.reader_event != "inserted":
            self.session.card_removed()

    # --- the card reader -----------------------------------------------------------------------
    @Slot(str)
    def _on_card(self, event: str) -> None:
        before, self.reader_event = self.reader_event, event
        state = self.state
        if event == "removed" and before != "inserted":
            # The reader was empty already (the watcher's first look, or the reader is back).
            if state in (State.WELCOME, State.INSERT_CARD):
                self._render()
            return
        if event == "inserted":
            if state in (State.WELCOME, State.INSERT_CARD):
                self.busy = True
                self._act(self.session.card_inserted)
                if self.state in (State.WELCOME, State.INSERT_CARD):
                    self._render()
        elif state is State.INSERT_CARD:
            # A card that could not be used was taken off: stay on this screen for the next.
            self.session.card_removed()
            self._act(self.session.begin)
        elif state is not State.WELCOME or event == "removed":
            self.session.card_removed()
        else:
            self._render()

    # --- the voter's actions (called by the screens) -------------------------------------------
    def _act(self, action: Callable[[], None]) -> None:
        """Run a voter event; a press that came too late for its screen (a double tap, a
        screen that just changed) is ignored, never an error on screen."""
        try:
            action()
        except InvalidTransition as exc:
            log.info("ignored: %s", exc)

    def touched(self) -> None:
        self._last_input = self._clock()

    def start(self) -> None:
        self._act(self.session.begin)
        if self.state is State.INSERT_CARD and self.reader_event == "inserted":
            # The card is on the reader already (left there when the kiosk timed out).
            self.busy = True
            self._act(self.session.card_inserted)
            self._render()

    def back(self) -> None:
        self.session.reset()

    def enter_pin(self, pin: str) -> None:
        self._act(lambda: self.session.enter_pin(pin))

    def forgot_pin(self) -> None:
        self._act(self.session.forgot_pin)

    def choose(self, choices: Mapping[str, Sequence[str]]) -> None:
        try:
            self._act(lambda: self.session.choose(choices))
        except InvalidBallot as exc:  # the screen enforces the limits; this is a backstop
            log.warning("ballot refused: %s", exc)

    def change_choices(self) -> None:
        self._act(self.session.change_choices)

    def confirm(self) -> None:
        if self.busy:
            return
        self.busy = True
        self._act(self.session.confirm)
        self._render()

    def cast(self) -> None:
        self._act(self.session.cast)

    def check(self) -> None:
        self._act(self.session.check)

    def vote_again(self) -> None:
        self._act(self.session.vote_again)

    def finish(self) -> None:
        self._act(self.session.finish)

    def print_receipt(self) -> None:
        receipt = self.view.receipt
        if receipt is None or self.options.printer == "none":
            return
        path: Path | None = None
        try:
            if self.options.printer == "pdf":
                directory = self.options.pdf_dir or Path(".")
                directory.mkdir(parents=True, exist_ok=True)
                # The file is named at random, not by the voter or the time.
                path = directory / f"receipt-{secrets.token_hex(6)}.pdf"
                printer = qr.pdf_printer(path)
            else:
                printer = QPrinter(QPrinter.PrinterMode.HighResolution)
            qr.print_receipt(printer, receipt, self.options.observer_base_url, self.lang)
            self.print_status = tr("receipt.printed", self.lang)
            self.last_printed = path
        except OSError as exc:
            log.warning("printing failed: %s", exc)
            self.print_status = tr("receipt.print_failed", self.lang)
        self._render()

    # --- timers and input ----------------------------------------------------------------------
    def _tick(self) -> None:
        if self.stall_hook is not None:
            self.stall_hook()
        timeout = self.session.services.inactivity_timeout
        if self._clock() - self._last_input >= timeout:
            self.session.tick()

    def _recover_if_idle(self) -> None:
        if self.state is State.WELCOME and self.session.services.outbox.depth > 0:
            self.session.recover()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in _INPUT_EVENTS:
            self._last_input = self._clock()
        return False

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # Enter presses the focused button too (Qt only does Space outside dialogs).
        focused = QApplication.focusWidget()
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and isinstance(
            focused, QAbstractButton
        ):
            focused.click()
            return
        super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        for timer in self.findChildren(QTimer):  # ours and any added (health reports)
            timer.stop()
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
