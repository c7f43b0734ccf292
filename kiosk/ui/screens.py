"""One widget per session state. Each screen shows a :class:`~kiosk.core.session.View` in one
language and turns the voter's presses into the session's events (through the window)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtGui import (
    QColor,
    QKeyEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QRegularExpressionValidator,
)
from PySide6.QtWidgets import (
    QBoxLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from election.manifest import Contest, Manifest
from kiosk.core.session import HelpDeskReason, State, View
from kiosk.ui import qr
from kiosk.ui.style import TOUCH_PX
from kiosk.ui.text import Lang, both, refusal_text, tr

if TYPE_CHECKING:
    from kiosk.ui.window import KioskWindow

PIN_KEYS = ("1234567890", "ABCDEFGHIJ", "KLMNOPQRST", "UVWXYZ")
MAX_PIN = 16


class CardPictogram(QWidget):
    """A drawing of the card on the reader: ``place`` (arrow down) or ``take`` (arrow up)."""

    def __init__(self, direction: str) -> None:
        super().__init__()
        self.direction = direction
        self.setMinimumSize(360, 240)
        self.setAccessibleName("")

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        fg = self.palette().color(QPalette.ColorRole.WindowText)
        w, h = self.width(), self.height()
        cx = w / 2
        # The reader: a flat slab at the bottom.
        painter.setPen(QPen(fg, 4))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(QRectF(cx - 150, h - 70, 300, 50), 12, 12)
        # The card: photo side up (a face in the corner), above the slab.
        card = QRectF(cx - 110, h - 175 if self.direction == "place" else h - 205, 220, 130)
        painter.setBrush(QColor("#e8f0fb"))
        painter.drawRoundedRect(card, 10, 10)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        face = QRectF(card.right() - 70, card.top() + 20, 50, 62)
        painter.drawRect(face)
        painter.drawEllipse(QRectF(face.left() + 13, face.top() + 8, 24, 24))
        for i in range(3):
            y = card.top() + 30 + i * 22
            painter.drawLine(int(card.left() + 20), int(y), int(card.left() + 120), int(y))
        # The arrow: down onto the reader, or up off it.
        painter.setPen(QPen(QColor("#d97706"), 8))
        top, bottom = 12.0, card.top() - 12
        painter.drawLine(int(cx), int(top), int(cx), int(bottom))
        tip, back = (bottom, bottom - 24) if self.direction == "place" else (top, top + 24)
        painter.drawLine(int(cx), int(tip), int(cx - 20), int(back))
        painter.drawLine(int(cx), int(tip), int(cx + 20), int(back))
        painter.end()


class Screen(QWidget):
    """A page of the window's stack; ``render`` shows a view in a language."""

    state: State

    def __init__(self, ui: KioskWindow) -> None:
        super().__init__()
        self.ui = ui
        self._static: list[tuple[QLabel | QPushButton, str, str | None]] = []
        self.box = QVBoxLayout(self)
        self.box.setContentsMargins(40, 12, 40, 24)
        self.box.setSpacing(18)
        self.title = self.label(None, "title")

    # --- building -------------------------------------------------------------------------------
    def label(self, key: str | None, name: str | None = None, *, add: bool = True) -> QLabel:
        widget = QLabel()
        widget.setWordWrap(True)
        widget.setTextFormat(Qt.TextFormat.PlainText)
        if name:
            widget.setObjectName(name)
        if key:
            self._static.append((widget, key, None))
        if add:
            self.box.addWidget(widget)
        return widget

    def button(
        self,
        key: str,
        a11y: str,
        slot: Callable[[], None],
        *,
        primary: bool = False,
        add_to: QHBoxLayout | None = None,
    ) -> QPushButton:
        widget = QPushButton()
        widget.setMinimumSize(TOUCH_PX, TOUCH_PX)
        widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        if primary:
            widget.setObjectName("primary")
        widget.clicked.connect(slot)
        self._static.append((widget, key, a11y))
        if add_to is not None:
            add_to.addWidget(widget)
        return widget

    def row(self, *, stretch_first: bool = True) -> QHBoxLayout:
        layout = QHBoxLayout()
        layout.setSpacing(24)
        if stretch_first:
            layout.addStretch(1)
        self.box.addLayout(layout)
        return layout

    def busy_bar(self) -> QProgressBar:
        bar = QProgressBar()
        bar.setRange(0, 0)
        bar.setTextVisible(False)
        self.box.addWidget(bar)
        return bar

    # --- showing --------------------------------------------------------------------------------
    def show_view(self, view: View, lang: Lang) -> None:
        for widget, key, a11y in self._static:
            text = tr(key, lang)
            widget.setText(text)
            widget.setAccessibleName(tr(a11y, lang) if a11y else text)

    def first_focus(self) -> QWidget | None:
        return None


def set_text(label: QLabel, text: str) -> None:
    label.setText(text)
    label.setAccessibleName(text)
    label.setVisible(bool(text))


class WelcomeScreen(Screen):
    state = State.WELCOME

    def __init__(self, ui: KioskWindow) -> None:
        super().__init__(ui)
        self.body = self.label(None)
        self.box.addStretch(1)
        row = self.row()
        self.start = self.button("welcome.start", "welcome.start.a11y", ui.start, primary=True)
        self.start.setMinimumWidth(320)
        row.addWidget(self.start)
        row.addStretch(1)
        self.box.addStretch(1)

    def show_view(self, view: View, lang: Lang) -> None:
        super().show_view(view, lang)
        set_text(self.title, both("welcome.title"))
        set_text(self.body, both("welcome.body"))
        # The start button speaks the chosen language first, then the other.
        other = Lang.EN if lang is Lang.JA else Lang.JA
        self.start.setText(f"{tr('welcome.start', lang)} / {tr('welcome.start', other)}")

    def first_focus(self) -> QWidget | None:
        return self.start


class InsertCardScreen(Screen):
    state = State.INSERT_CARD

    def __init__(self, ui: KioskWindow) -> None:
        super().__init__(ui)
        self._static.append((self.title, "insert.title", None))
        self.label("insert.body")
        self.problem = self.label(None, "error")
        self.reading = self.label("insert.reading", "big")
        self.box.addWidget(CardPictogram("place"), 1)
        row = self.row(stretch_first=False)
        self.back = self.button("back", "back.a11y", ui.back, add_to=row)
        row.addStretch(1)

    def show_view(self, view: View, lang: Lang) -> None:
        super().show_view(view, lang)
        problem = view.card_error
        if self.ui.reader_event == "no_reader":
            problem = "no_reader"
        set_text(self.problem, tr(f"insert.{problem}", lang) if problem else "")
        self.reading.setVisible(self.ui.busy)

    def first_focus(self) -> QWidget | None:
        return self.back


class PinScreen(Screen):
    state = State.PIN

    def __init__(self, ui: KioskWindow) -> None:
        super().__init__(ui)
        self._static.append((self.title, "pin.title", None))
        # Full width under the title: what went wrong, and the warning before the last try.
        self.problem = self.label(None, "error")
        self.warning = self.label(None, "warning")
        columns = self.columns = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        columns.setSpacing(24)
        self.box.addLayout(columns, 1)
        # Left: what to type, tries left, and the way out.
        left = QVBoxLayout()
        left.setSpacing(14)
        columns.addLayout(left, 1)
        body = self.label("pin.body", add=False)
        self.tries = self.label(None, "big", add=False)
        self.count = QLabel()
        self.count.setObjectName("small")
        left.addWidget(body)
        left.addWidget(self.tries)
        left.addWidget(self.count)
        left.addStretch(1)
        self.forgot = self.button("pin.forgot", "pin.forgot.a11y", ui.forgot_pin)
        left.addWidget(self.forgot)
        # Right: the masked field, OK, and the on-screen keyboard.
        right = QVBoxLayout()
        right.setSpacing(10)
        columns.addLayout(right)
        entry = QHBoxLayout()
        entry.setSpacing(12)
        self.field = QLineEdit()
        self.field.setMinimumWidth(200)
        self.field.setEchoMode(QLineEdit.EchoMode.Password)
        self.field.setMaxLength(MAX_PIN)
        self.field.setValidator(QRegularExpressionValidator(r"[A-Za-z0-9]{0,16}"))
        self.field.textEdited.connect(self._edited)
        self.field.returnPressed.connect(self.submit)
        entry.addWidget(self.field, 1)
        self.ok = self.button("pin.ok", "pin.ok.a11y", self.submit, primary=True, add_to=entry)
        self.ok.setMinimumWidth(160)
        right.addLayout(entry)
        grid = QGridLayout()
        grid.setSpacing(6)
        self.keys: dict[str, QPushButton] = {}
        for r, line in enumerate(PIN_KEYS):
            for c, char in enumerate(line):
                key = QPushButton(char)
                key.setObjectName("key")
                key.setMinimumSize(TOUCH_PX, TOUCH_PX)
                # Tab reaches the keys, but pressing one leaves the keyboard focus in the field.
                key.setFocusPolicy(Qt.FocusPolicy.TabFocus)
                key.clicked.connect(lambda _=False, ch=char: self.type(ch))
                grid.addWidget(key, r, c)
                self.keys[char] = key
        self.delete = self.button("pin.delete", "pin.delete.a11y", self.backspace)
        self.clear = self.button("pin.clear", "pin.clear.a11y", self.field.clear)
        for control in (self.delete, self.clear):
            control.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        grid.addWidget(self.delete, 3, 6, 1, 2)
        grid.addWidget(self.clear, 3, 8, 1, 2)
        right.addLayout(grid)
        right.addStretch(1)
        self._lang = Lang.JA

    def _edited(self, text: str) -> None:
        upper = text.upper()
        if upper != text:
            self.field.setText(upper)
        self._count()

    def _count(self) -> None:
        set_text(self.count, tr("pin.length", self._lang, n=len(self.field.text())))

    def type(self, char: str) -> None:
        if len(self.field.text()) < MAX_PIN:
            self.field.setText(self.field.text() + char)
        self._count()
        self.ui.touched()

    def backspace(self) -> None:
        self.field.setText(self.field.text()[:-1])
        self._count()

    def submit(self) -> None:
        pin = self.field.text()
        self.field.clear()  # the PIN is not kept in the widget
        self.ui.enter_pin(pin)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # Typing while a key of the on-screen keyboard has the focus still types.
        text = event.text().upper()
        if len(text) == 1 and (text.isdigit() or "A" <= text <= "Z"):
            self.type(text)
        elif event.key() == Qt.Key.Key_Backspace:
            self.backspace()
        else:
            super().keyPressEvent(event)

    def show_view(self, view: View, lang: Lang) -> None:
        super().show_view(view, lang)
        self._lang = lang
        # Large text: the keyboard goes under the text rather than beside it (and scrolls).
        self.columns.setDirection(
            QBoxLayout.Direction.TopToBottom if self.ui.large else QBoxLayout.Direction.LeftToRight
        )
        self.field.setAccessibleName(tr("pin.field.a11y", lang))
        for char, key in self.keys.items():
            key.setAccessibleName(tr("pin.key.a11y", lang, char=char))
        tries = view.tries_left
        set_text(self.tries, tr("pin.tries", lang, n=tries) if tries is not None else "")
        set_text(self.warning, tr("pin.last_try", lang) if view.last_try_warning else "")
        error = {"wrong_pin": "pin.wrong", "pin_format": "pin.format"}.get(view.pin_error or "")
        set_text(self.problem, tr(error, lang) if error else "")
        self._count()

    def first_focus(self) -> QWidget | None:
        return self.field


class HelpDeskScreen(Screen):
    state = State.HELP_DESK

    def __init__(self, ui: KioskWindow) -> None:
        super().__init__(ui)
        self.body = self.label(None)
        self.box.addStretch(1)
        self.finish = self.button("finish", "finish.a11y", ui.finish, primary=True)
        self.row().addWidget(self.finish)

    def show_view(self, view: View, lang: Lang) -> None:
        super().show_view(view, lang)
        which = "forgotten" if view.help_desk is HelpDeskReason.FORGOTTEN else "locked"
        set_text(self.title, tr(f"help.{which}.title", lang))
        set_text(self.body, tr(f"help.{which}.body", lang))

    def first_focus(self) -> QWidget | None:
        return self.finish


class WaitScreen(Screen):
    """Checking and sending: the voter waits; nothing to press."""

    def __init__(self, ui: KioskWindow, state: State, prefix: str) -> None:
        self.state = state
        super().__init__(ui)
        self._static.append((self.title, f"{prefix}.title", None))
        self.label(f"{prefix}.body")
        self.box.addStretch(1)
        self.busy_bar()
        self.box.addStretch(1)


class RefusedScreen(Screen):
    state = State.REFUSED

    def __init__(self, ui: KioskWindow) -> None:
        super().__init__(ui)
        self._static.append((self.title, "refused.title", None))
        self.reason = self.label(None, "big")
        self.code = self.label(None, "small")
        self.box.addStretch(1)
        self.finish = self.button("finish", "finish.a11y", ui.finish, primary=True)
        self.row().addWidget(self.finish)

    def show_view(self, view: View, lang: Lang) -> None:
        super().show_view(view, lang)
        refusal = view.refusal
        code = refusal.code if refusal else "unknown"
        ja, en = (refusal.message_ja, refusal.message_en) if refusal else ("", "")
        set_text(self.reason, refusal_text(code, lang, ja, en))
        set_text(self.code, tr("refused.code", lang, code=code))

    def first_focus(self) -> QWidget | None:
        return self.finish


class AlreadyVotedScreen(Screen):
    state = State.ALREADY_VOTED

    def __init__(self, ui: KioskWindow) -> None:
        super().__init__(ui)
        self._static.append((self.title, "voted.title", None))
        self.label("voted.body", "big")
        self.box.addStretch(1)
        self.finish = self.button("finish", "finish.a11y", ui.finish, primary=True)
        self.row().addWidget(self.finish)

    def first_focus(self) -> QWidget | None:
        return self.finish


class BallotScreen(Screen):
    state = State.BALLOT

    def __init__(self, ui: KioskWindow) -> None:
        super().__init__(ui)
        self._static.append((self.title, "ballot.title", None))
        self.replaces = self.label(None, "warning")
        scroll = self.contests_area = QScrollArea()
        scroll.setWidgetResizable(True)
        # The contests scroll inside the page; the Next button stays on screen.
        scroll.setMinimumHeight(160)
        scroll.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)
        inner = QWidget()
        self.contests_box = QVBoxLayout(inner)
        self.contests_box.setSpacing(16)
        scroll.setWidget(inner)
        self.box.addWidget(scroll, 1)
        self.options: dict[str, dict[str, QPushButton]] = {}
        self.contest_labels: dict[str, tuple[QLabel, QLabel, QLabel]] = {}
        self.frames: dict[str, QFrame] = {}
        self.notes: dict[str, QLabel] = {}
        for contest in ui.manifest.contests:
            self._add_contest(contest)
        self.contests_box.addStretch(1)
        self.message = self.label(None, "warning")
        self.next = self.button("ballot.next", "ballot.next.a11y", self.submit, primary=True)
        self.next.setMinimumWidth(260)
        self.row().addWidget(self.next)
        self._warned: tuple[tuple[str, ...], ...] | None = None
        self._lang = Lang.JA

    def _add_contest(self, contest: Contest) -> None:
        frame = QFrame()
        frame.setObjectName("contest")
        layout = QVBoxLayout(frame)
        title, limits, count = QLabel(), QLabel(), QLabel()
        title.setObjectName("big")
        limits.setWordWrap(True)
        count.setObjectName("small")
        for widget in (title, limits):
            layout.addWidget(widget)
        grid = QGridLayout()
        grid.setSpacing(12)
        buttons: dict[str, QPushButton] = {}
        for i, option in enumerate(contest.options):
            button = QPushButton()
            button.setCheckable(True)
            button.setMinimumSize(TOUCH_PX, TOUCH_PX)
            button.toggled.connect(lambda on, c=contest, o=option.id: self._toggled(c, o, on))
            grid.addWidget(button, i // 3, i % 3)
            buttons[option.id] = button
        layout.addLayout(grid)
        note = QLabel()
        note.setObjectName("warning")
        note.setWordWrap(True)
        note.hide()
        layout.addWidget(note)
        layout.addWidget(count)
        self.contests_box.addWidget(frame)
        self.frames[contest.id] = frame
        self.notes[contest.id] = note
        self.options[contest.id] = buttons
        self.contest_labels[contest.id] = (title, limits, count)

    def chosen(self, contest_id: str) -> list[str]:
        return [o for o, b in self.options[contest_id].items() if b.isChecked()]

    def clear(self) -> None:
        for buttons in self.options.values():
            for button in buttons.values():
                button.blockSignals(True)
                button.setChecked(False)
                button.blockSignals(False)
        self._warned = None

    def _toggled(self, contest: Contest, option: str, on: bool) -> None:
        self.ui.touched()
        self._warned = None
        set_text(self.message, "")
        for note in self.notes.values():
            set_text(note, "")
        if on:
            others = [o for o in self.chosen(contest.id) if o != option]
            if contest.max_selections == 1:
                for other in others:  # one to choose: a new choice replaces the old one
                    button = self.options[contest.id][other]
                    button.blockSignals(True)
                    button.setChecked(False)
                    button.blockSignals(False)
            elif len(others) >= contest.max_selections:  # full: say so, keep the choices
                button = self.options[contest.id][option]
                button.blockSignals(True)
                button.setChecked(False)
                button.blockSignals(False)
                note = self.notes[contest.id]
                set_text(note, tr("ballot.full", self._lang))
                QTimer.singleShot(0, lambda: self.contests_area.ensureWidgetVisible(note))
        self._counts()

    def _counts(self) -> None:
        lang = self._lang
        for contest in self.ui.manifest.contests:
            n = len(self.chosen(contest.id))
            _, _, count = self.contest_labels[contest.id]
            set_text(count, tr("ballot.chosen", lang, n=n, max=contest.max_selections))
            for option in contest.options:
                # A tick as well as the colour: a choice is visible without colour vision.
                name = option.name_ja if lang is Lang.JA else option.name_en
                button = self.options[contest.id][option.id]
                button.setText(f"\u2713 {name}" if button.isChecked() else name)
                button.setAccessibleName(tr("ballot.option.a11y", lang, name=name))

    def selection(self) -> dict[str, list[str]]:
        return {c.id: self.chosen(c.id) for c in self.ui.manifest.contests}

    def submit(self) -> None:
        lang = self._lang
        selection = self.selection()
        for contest in self.ui.manifest.contests:
            missing = contest.min_selections - len(selection[contest.id])
            if missing > 0:
                title = contest.title_ja if lang is Lang.JA else contest.title_en
                set_text(self.message, tr("ballot.too_few", lang, contest=title, n=missing))
                self.contests_area.ensureWidgetVisible(self.frames[contest.id])
                return
        key = tuple(tuple(v) for v in selection.values())
        if self._warned != key:
            for contest in self.ui.manifest.contests:
                room = contest.max_selections - len(selection[contest.id])
                if room > 0:
                    self._warned = key
                    title = contest.title_ja if lang is Lang.JA else contest.title_en
                    set_text(self.message, tr("ballot.undervote", lang, contest=title, n=room))
                    self.contests_area.ensureWidgetVisible(self.frames[contest.id])
                    return
        self.ui.choose(selection)

    def show_view(self, view: View, lang: Lang) -> None:
        super().show_view(view, lang)
        self._lang = lang
        set_text(self.replaces, tr("replaces", lang) if view.replaces_earlier else "")
        for contest in self.ui.manifest.contests:
            title, limits, _ = self.contest_labels[contest.id]
            set_text(title, contest.title_ja if lang is Lang.JA else contest.title_en)
            lo, hi = contest.min_selections, contest.max_selections
            if lo == hi == 1:
                text = tr("ballot.limits.one", lang)
            elif lo == 0:
                text = tr("ballot.limits.upto", lang, max=hi)
            else:
                text = tr("ballot.limits.range", lang, min=lo, max=hi)
            set_text(limits, text)
        self._counts()

    def first_focus(self) -> QWidget | None:
        first = self.ui.manifest.contests[0]
        return self.options[first.id][first.options[0].id]


class ReviewScreen(Screen):
    state = State.REVIEW

    def __init__(self, ui: KioskWindow) -> None:
        super().__init__(ui)
        self._static.append((self.title, "review.title", None))
        self.replaces = self.label(None, "warning")
        self.lines: list[QLabel] = []
        self.list_box = QVBoxLayout()
        self.box.addLayout(self.list_box)
        self.box.addStretch(1)
        self.label("review.note")
        self.sealing = self.label("review.encrypting", "big")
        row = self.row(stretch_first=False)
        self.change = self.button("review.change", "review.change.a11y", ui.change_choices)
        row.addWidget(self.change)
        row.addStretch(1)
        self.confirm = self.button(
            "review.confirm", "review.confirm.a11y", ui.confirm, primary=True
        )
        row.addWidget(self.confirm)

    def show_view(self, view: View, lang: Lang) -> None:
        super().show_view(view, lang)
        set_text(self.replaces, tr("replaces", lang) if view.replaces_earlier else "")
        for line in self.lines:
            self.list_box.removeWidget(line)
            line.hide()
            line.deleteLater()
        self.lines = []
        choices = view.choices or {}
        for contest in self.ui.manifest.contests:
            names = {o.id: (o.name_ja if lang is Lang.JA else o.name_en) for o in contest.options}
            picked = [names[o] for o in choices.get(contest.id, ())]
            title = contest.title_ja if lang is Lang.JA else contest.title_en
            head, body = QLabel(), QLabel()
            head.setWordWrap(True)
            body.setWordWrap(True)
            head.setObjectName("small")
            body.setObjectName("big")
            set_text(head, title)
            set_text(body, "、".join(picked) if lang is Lang.JA and picked else ", ".join(picked))
            if not picked:
                set_text(body, tr("review.none", lang))
            for widget in (head, body):
                self.list_box.addWidget(widget)
                self.lines.append(widget)
        busy = self.ui.busy
        self.sealing.setVisible(busy)
        self.confirm.setEnabled(not busy)
        self.change.setEnabled(not busy)

    def first_focus(self) -> QWidget | None:
        return self.confirm


class CastOrCheckScreen(Screen):
    state = State.CAST_OR_CHECK

    def __init__(self, ui: KioskWindow) -> None:
        super().__init__(ui)
        self._static.append((self.title, "coc.title", None))
        self.replaces = self.label(None, "warning")
        self.summary = self.label(None, "big")
        self.label("coc.body")
        self.code = self.label(None, "code")
        self.code.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.box.addStretch(1)
        row = self.row(stretch_first=False)
        row.addStretch(1)
        self.cast = self.button("coc.cast", "coc.cast.a11y", ui.cast, primary=True, add_to=row)
        self.cast.setMinimumWidth(360)
        row.addStretch(1)
        final = self.label("coc.final")
        final.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.box.addSpacing(24)
        self.label("coc.check.help", "small")
        row = self.row(stretch_first=False)
        self.change = self.button("coc.change", "review.change.a11y", ui.change_choices, add_to=row)
        row.addStretch(1)
        self.check = self.button("coc.check", "coc.check.a11y", ui.check, add_to=row)

    def show_view(self, view: View, lang: Lang) -> None:
        super().show_view(view, lang)
        set_text(self.replaces, tr("replaces", lang) if view.replaces_earlier else "")
        set_text(self.summary, summary(self.ui.manifest, view.choices or {}, lang))
        set_text(self.code, code_lines(view.tracking_code or ""))

    def first_focus(self) -> QWidget | None:
        return self.cast


def summary(manifest: Manifest, choices: Mapping[str, Sequence[str]], lang: Lang) -> str:
    """ "Your choice: …" — one line per contest, in the voter's language."""
    lines = []
    for contest in manifest.contests:
        names = {o.id: (o.name_ja if lang is Lang.JA else o.name_en) for o in contest.options}
        picked = [names[o] for o in choices.get(contest.id, ()) if o in names]
        text = ("、" if lang is Lang.JA else ", ").join(picked) or tr("review.none", lang)
        title = contest.title_ja if lang is Lang.JA else contest.title_en
        lines.append(tr("coc.summary", lang, contest=title, choice=text))
    return "\n".join(lines)


def code_lines(code: str) -> str:
    """A tracking code (13 groups of four) on two lines, so it is read group by group."""
    groups = code.split("-")
    half = (len(groups) + 1) // 2
    return "-".join(groups[:half]) + "-\n" + "-".join(groups[half:]) if len(groups) > 4 else code


class ReceiptScreen(Screen):
    state = State.RECEIPT

    def __init__(self, ui: KioskWindow) -> None:
        super().__init__(ui)
        self._static.append((self.title, "receipt.title", None))
        self.label("receipt.body", "big")
        body = QHBoxLayout()
        body.setSpacing(32)
        text = QVBoxLayout()
        self.code_head = QLabel()
        self._static.append((self.code_head, "receipt.code", None))
        self.code = QLabel()
        self.code.setObjectName("code")
        self.block = QLabel()
        self.printed = QLabel()
        self.printed.setObjectName("small")
        for widget in (self.code_head, self.code, self.block, self.printed):
            text.addWidget(widget)
        text.addStretch(1)
        body.addLayout(text, 1)
        qr_box = QVBoxLayout()
        self.qr = QLabel()
        self.qr.setFixedSize(260, 260)
        self.qr.setScaledContents(True)
        self.qr_help = QLabel()
        self.qr_help.setObjectName("small")
        self.qr_help.setWordWrap(True)
        self.qr_help.setMaximumWidth(320)
        self._static.append((self.qr_help, "receipt.qr", None))
        qr_box.addWidget(self.qr)
        qr_box.addWidget(self.qr_help)
        qr_box.addStretch(1)
        body.addLayout(qr_box)
        self.box.addLayout(body, 1)
        row = self.row(stretch_first=False)
        self.print = self.button(
            "receipt.print", "receipt.print.a11y", ui.print_receipt, add_to=row
        )
        row.addStretch(1)
        self.finish = self.button("finish", "finish.a11y", ui.finish, primary=True, add_to=row)

    def show_view(self, view: View, lang: Lang) -> None:
        super().show_view(view, lang)
        receipt = view.receipt
        if receipt is None:
            return
        set_text(self.code, code_lines(receipt.tracking_code))
        set_text(self.block, tr("receipt.block", lang, block=receipt.block_number))
        url = qr.ballot_url(self.ui.options.observer_base_url, receipt.tracking_code)
        self.qr.setPixmap(qr.qr_pixmap(url))
        self.qr.setAccessibleName(tr("receipt.qr.a11y", lang))
        self.qr.setToolTip(url)
        self.print.setVisible(self.ui.options.printer != "none")
        set_text(self.printed, self.ui.print_status)

    def first_focus(self) -> QWidget | None:
        return self.finish


class CheckedScreen(Screen):
    state = State.CHECKED

    def __init__(self, ui: KioskWindow) -> None:
        super().__init__(ui)
        self._static.append((self.title, "checked.title", None))
        body = QHBoxLayout()
        body.setSpacing(32)
        text = QVBoxLayout()
        self.body = QLabel()
        self.body.setWordWrap(True)
        self._static.append((self.body, "checked.body", None))
        self.code_head = QLabel()
        self._static.append((self.code_head, "checked.code", None))
        self.code = QLabel()
        self.code.setObjectName("code")
        for widget in (self.body, self.code_head, self.code):
            text.addWidget(widget)
        text.addStretch(1)
        body.addLayout(text, 1)
        self.qr = QLabel()
        self.qr.setFixedSize(260, 260)
        self.qr.setScaledContents(True)
        qr_box = QVBoxLayout()
        qr_box.addWidget(self.qr)
        qr_box.addStretch(1)
        body.addLayout(qr_box)
        self.box.addLayout(body, 1)
        self.again = self.button("checked.again", "checked.again.a11y", ui.vote_again, primary=True)
        self.row().addWidget(self.again)

    def show_view(self, view: View, lang: Lang) -> None:
        super().show_view(view, lang)
        checked = view.checked
        if checked is None:
            return
        set_text(self.code, code_lines(checked.tracking_code))
        url = qr.checked_url(self.ui.options.observer_base_url, checked.tracking_code)
        self.qr.setPixmap(qr.qr_pixmap(url))
        self.qr.setAccessibleName(tr("checked.qr.a11y", lang))
        self.qr.setToolTip(url)

    def first_focus(self) -> QWidget | None:
        return self.again


class QueuedScreen(Screen):
    state = State.QUEUED

    def __init__(self, ui: KioskWindow) -> None:
        super().__init__(ui)
        self._static.append((self.title, "queued.title", None))
        self.label("queued.body")
        self.code_head = self.label("receipt.code")
        self.code = self.label(None, "code")
        self.box.addStretch(1)
        self.finish = self.button("finish", "finish.a11y", ui.finish, primary=True)
        self.row().addWidget(self.finish)

    def show_view(self, view: View, lang: Lang) -> None:
        super().show_view(view, lang)
        set_text(self.code, code_lines(view.tracking_code or ""))

    def first_focus(self) -> QWidget | None:
        return self.finish


class OutOfServiceScreen(Screen):
    state = State.OUT_OF_SERVICE

    def __init__(self, ui: KioskWindow) -> None:
        super().__init__(ui)
        self._static.append((self.title, "oos.title", None))
        self.label("oos.body", "big")
        self.box.addStretch(1)
        self.detail = self.label(None, "small")
        self.finish = self.button("finish", "finish.a11y", ui.finish, primary=True)
        self.row().addWidget(self.finish)

    def show_view(self, view: View, lang: Lang) -> None:
        super().show_view(view, lang)
        detail = view.refusal.code if view.refusal else (view.error or "")
        set_text(self.detail, tr("oos.detail", lang, detail=detail) if detail else "")

    def first_focus(self) -> QWidget | None:
        return self.finish


class RemoveCardScreen(Screen):
    state = State.REMOVE_CARD

    def __init__(self, ui: KioskWindow) -> None:
        super().__init__(ui)
        self._static.append((self.title, "remove.title", None))
        self.label("remove.body", "big")
        self.box.addWidget(CardPictogram("take"), 1)


def build_screens(ui: KioskWindow) -> list[Screen]:
    return [
        WelcomeScreen(ui),
        InsertCardScreen(ui),
        PinScreen(ui),
        HelpDeskScreen(ui),
        WaitScreen(ui, State.CHECKING, "checking"),
        RefusedScreen(ui),
        AlreadyVotedScreen(ui),
        BallotScreen(ui),
        ReviewScreen(ui),
        CastOrCheckScreen(ui),
        CheckedScreen(ui),
        WaitScreen(ui, State.SENDING, "sending"),
        ReceiptScreen(ui),
        QueuedScreen(ui),
        OutOfServiceScreen(ui),
        RemoveCardScreen(ui),
    ]
