"""The real kiosk window (offscreen), driven as a voter would — taps and key presses — through
pcscd + the virtual card, the registrar service over HTTP and the BallotBox on the embedded
chain."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontInfo
from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel, QLineEdit, QPushButton, QWidget

from card_reader.testpki import Resident, VoterCard
from election.manifest import Manifest, manifest_from_dict
from election.primitives.blind_rsa import RSAPrivateKey
from kiosk.core.outbox import Outbox, OutboxEntry
from kiosk.core.session import HelpDeskReason, Refusal, State, View
from kiosk.testing import (
    LiveRegistrar,
    ReaderSlot,
    RecordingApplet,
    embedded_election,
    new_resident,
    registrar_service,
)
from kiosk.ui.reader import ReaderWatcher, pcsc_probe
from kiosk.ui.screenshots import COUNCIL_MANIFEST
from kiosk.ui.text import LANGUAGES, REFUSALS, Lang, refusal_text, tr
from registrar.refusals import REASONS
from tests.kiosk.ui.conftest import OBSERVER, PIN, Kiosk


def test_a_vote_with_a_receipt_and_a_printed_copy(kiosk: Kiosk) -> None:
    window, box = kiosk.window, kiosk.session.services.box
    assert kiosk.state is State.WELCOME
    kiosk.click(window.screens[State.WELCOME].start)  # type: ignore[attr-defined]
    assert kiosk.state is State.INSERT_CARD
    applet = kiosk.insert()
    kiosk.wait(State.PIN)
    pin_screen = window.screens[State.PIN]
    assert pin_screen.tries.text() == tr("pin.tries", Lang.JA, n=5)  # type: ignore[attr-defined]
    kiosk.type_pin_on_screen(PIN)
    kiosk.wait(State.BALLOT)
    assert applet.pin_verifications == 1
    kiosk.pick("mayor", "suzuki")
    kiosk.click(window.screens[State.BALLOT].next)  # type: ignore[attr-defined]
    assert kiosk.state is State.REVIEW
    review = window.screens[State.REVIEW]
    shown = [label.text() for label in review.lines]  # type: ignore[attr-defined]
    assert "鈴木 一郎" in shown
    kiosk.click(review.confirm)  # type: ignore[attr-defined]
    kiosk.wait(State.CAST_OR_CHECK)
    code = window.view.tracking_code
    assert code is not None
    coc = window.screens[State.CAST_OR_CHECK]
    assert coc.code.text().replace("\n", "") == code  # type: ignore[attr-defined]
    kiosk.click(coc.cast)  # type: ignore[attr-defined]
    kiosk.wait(State.RECEIPT)
    receipt = window.view.receipt
    assert receipt is not None and receipt.tracking_code == code
    assert receipt.ballot_hash in [c.ballot_hash for c in box.cast_ballots()]
    screen = window.screens[State.RECEIPT]
    assert screen.code.text().replace("\n", "") == code  # type: ignore[attr-defined]
    assert str(receipt.block_number) in screen.block.text()  # type: ignore[attr-defined]
    assert screen.qr.toolTip() == f"{OBSERVER}/ballots/{code}"  # type: ignore[attr-defined]
    assert not screen.qr.pixmap().isNull()  # type: ignore[attr-defined]
    kiosk.click(screen.print)  # type: ignore[attr-defined]
    assert window.last_printed is not None
    assert window.last_printed.read_bytes().startswith(b"%PDF")
    kiosk.click(screen.finish)  # type: ignore[attr-defined]
    assert kiosk.state is State.REMOVE_CARD
    kiosk.pull()
    assert not kiosk.session.holds_ballot() and not kiosk.session.holds_identity()
    assert kiosk.states[:5] == [
        State.INSERT_CARD,
        State.PIN,
        State.CHECKING,
        State.BALLOT,
        State.REVIEW,
    ]


def test_wrong_password_then_right_on_the_physical_keyboard(kiosk: Kiosk) -> None:
    window = kiosk.window
    applet = kiosk.insert()
    kiosk.wait(State.PIN)  # a card on the welcome screen goes straight to the password
    kiosk.type_pin_on_keyboard("wrong9")
    kiosk.wait(State.PIN)
    kiosk.qtbot.waitUntil(lambda: window.view.pin_error == "wrong_pin")
    screen = window.screens[State.PIN]
    assert screen.problem.text() == tr("pin.wrong", Lang.JA)  # type: ignore[attr-defined]
    assert screen.tries.text() == tr("pin.tries", Lang.JA, n=4)  # type: ignore[attr-defined]
    assert screen.field.text() == ""  # type: ignore[attr-defined]
    assert applet.pin_verifications == 1  # the one try the voter made, nothing retried
    kiosk.type_pin_on_keyboard("ab-1")  # the field refuses "-"; "AB1" is too short
    kiosk.qtbot.waitUntil(lambda: window.view.pin_error == "pin_format")
    assert screen.problem.text() == tr("pin.format", Lang.JA)  # type: ignore[attr-defined]
    assert applet.pin_verifications == 1  # refused before the card: no try used
    kiosk.type_pin_on_keyboard(PIN.lower())  # typed in lower case, sent in upper case
    kiosk.wait(State.BALLOT)
    assert applet.pin_verifications == 2
    assert kiosk.session.health().wrong_pin == 1


def test_a_warning_before_the_last_try_then_the_lock_sends_to_the_help_desk(kiosk: Kiosk) -> None:
    window = kiosk.window
    applet = kiosk.insert()
    kiosk.wait(State.PIN)
    screen = window.screens[State.PIN]
    for left in (4, 3, 2, 1):
        assert not screen.warning.isVisible()  # type: ignore[attr-defined]
        kiosk.type_pin_on_screen("WRONG9")
        kiosk.qtbot.waitUntil(lambda left=left: window.view.tries_left == left)
    assert screen.warning.isVisible()  # type: ignore[attr-defined]
    assert screen.warning.text() == tr("pin.last_try", Lang.JA)  # type: ignore[attr-defined]
    kiosk.type_pin_on_screen("WRONG9")
    kiosk.wait(State.HELP_DESK)
    assert window.view.help_desk is HelpDeskReason.LOCKED
    help_screen = window.screens[State.HELP_DESK]
    assert help_screen.body.text() == tr("help.locked.body", Lang.JA)  # type: ignore[attr-defined]
    assert applet.pin_verifications == 5
    kiosk.click(help_screen.finish)  # type: ignore[attr-defined]
    assert kiosk.state is State.REMOVE_CARD
    kiosk.pull()


def test_forgot_my_password_shows_the_help_desk_and_costs_no_try(kiosk: Kiosk) -> None:
    window = kiosk.window
    kiosk.click(window.lang_buttons[Lang.EN])
    applet = kiosk.insert()
    kiosk.wait(State.PIN)
    kiosk.click(window.screens[State.PIN].forgot)  # type: ignore[attr-defined]
    assert kiosk.state is State.HELP_DESK
    body = window.screens[State.HELP_DESK].body.text()  # type: ignore[attr-defined]
    assert body == tr("help.forgotten.body", Lang.EN)
    assert applet.pin_verifications == 0
    assert kiosk.session.health().forgotten_pin == 1


REAL_REFUSALS = {
    # code -> how to make a card the real registrar refuses for that reason
    "other_municipality": lambda: {"resident": new_resident("東京都千代田区千代田")},
    "under_age": lambda: {
        "resident": Resident("未成年 太郎", "male", dt.date(2010, 5, 5), "茨城県つくば市天久保1")
    },
    "expired": lambda: {
        "resident": new_resident(),
        "not_before": dt.datetime.now(dt.UTC) - dt.timedelta(days=30),
        "days": 10,
    },
}


@pytest.mark.parametrize("code", sorted(REAL_REFUSALS))
def test_a_real_refusal_is_shown_in_plain_words(kiosk: Kiosk, code: str) -> None:
    options = REAL_REFUSALS[code]()
    resident = options.pop("resident")
    kiosk.insert(kiosk.registrar.card(resident, **options))
    kiosk.wait(State.PIN)
    kiosk.type_pin_on_screen(PIN)
    kiosk.wait(State.REFUSED)
    screen = kiosk.window.screens[State.REFUSED]
    assert screen.reason.text() == REFUSALS[code][0]  # type: ignore[attr-defined]
    assert code in screen.code.text()  # type: ignore[attr-defined]
    assert not kiosk.session.holds_identity() and not kiosk.session.holds_ballot()
    kiosk.click(screen.finish)  # type: ignore[attr-defined]
    kiosk.pull()


def test_every_refusal_code_has_its_own_plain_screen_in_both_languages(kiosk: Kiosk) -> None:
    window = kiosk.window
    screen = window.screens[State.REFUSED]
    codes = [*sorted(REASONS), "WrongPhase", "TokenAlreadyUsed", "BallotWasChallenged"]
    for lang in LANGUAGES:
        kiosk.click(window.lang_buttons[lang])
        for code in codes:
            # What the session shows after the registrar (or contract) refused with ``code``.
            window.display(View(State.REFUSED, refusal=Refusal(code, "x", "y")))
            assert kiosk.state is State.REFUSED
            text = screen.reason.text()  # type: ignore[attr-defined]
            assert text == refusal_text(code, lang) == REFUSALS[code][lang is Lang.EN]
            assert screen.code.text() == tr("refused.code", lang, code=code)  # type: ignore[attr-defined]
    # A code this kiosk does not know yet: the registrar's own words, not silence.
    kiosk.click(window.lang_buttons[Lang.JA])
    window.display(View(State.REFUSED, refusal=Refusal("new_reason", "新しい理由", "a new reason")))
    assert screen.reason.text() == "新しい理由"  # type: ignore[attr-defined]
    window.display(View(State.WELCOME))


def test_already_voted_is_said_before_any_ballot(kiosk: Kiosk) -> None:
    card = kiosk.new_card()
    vote(kiosk, card, "sato")
    kiosk.click(kiosk.window.screens[State.RECEIPT].finish)  # type: ignore[attr-defined]
    kiosk.pull()
    kiosk.states.clear()
    kiosk.insert(card)
    kiosk.wait(State.PIN)
    kiosk.type_pin_on_screen(PIN)
    kiosk.wait(State.ALREADY_VOTED)
    assert State.BALLOT not in kiosk.states
    screen = kiosk.window.screens[State.ALREADY_VOTED]
    assert screen.isVisible()
    kiosk.click(screen.finish)  # type: ignore[attr-defined]
    kiosk.pull()


def test_revote_says_the_earlier_ballot_is_replaced(
    make_kiosk: Callable[..., Kiosk], manifest: Manifest, registrar: LiveRegistrar
) -> None:
    kiosk = make_kiosk(
        election_=embedded_election(manifest, registrar.public_key, revote_allowed=True)
    )
    card = kiosk.new_card()
    vote(kiosk, card, "sato")
    kiosk.click(kiosk.window.screens[State.RECEIPT].finish)  # type: ignore[attr-defined]
    kiosk.pull()
    kiosk.to_ballot(card)
    screen = kiosk.window.screens[State.BALLOT]
    assert screen.replaces.isVisible()  # type: ignore[attr-defined]
    assert screen.replaces.text() == tr("replaces", Lang.JA)  # type: ignore[attr-defined]


def vote(kiosk: Kiosk, card: VoterCard, option: str) -> None:
    kiosk.to_ballot(card)
    kiosk.pick("mayor", option)
    kiosk.click(kiosk.window.screens[State.BALLOT].next)  # type: ignore[attr-defined]
    kiosk.click(kiosk.window.screens[State.REVIEW].confirm)  # type: ignore[attr-defined]
    kiosk.wait(State.CAST_OR_CHECK)
    kiosk.click(kiosk.window.screens[State.CAST_OR_CHECK].cast)  # type: ignore[attr-defined]
    kiosk.wait(State.RECEIPT)


def test_check_then_cast(kiosk: Kiosk) -> None:
    window, box = kiosk.window, kiosk.session.services.box
    kiosk.to_ballot()
    kiosk.pick("mayor", "tanaka")
    kiosk.click(window.screens[State.BALLOT].next)  # type: ignore[attr-defined]
    kiosk.click(window.screens[State.REVIEW].confirm)  # type: ignore[attr-defined]
    kiosk.wait(State.CAST_OR_CHECK)
    checked_code = window.view.tracking_code
    kiosk.click(window.screens[State.CAST_OR_CHECK].check)  # type: ignore[attr-defined]
    kiosk.wait(State.CHECKED)
    screen = window.screens[State.CHECKED]
    assert screen.qr.toolTip() == f"{OBSERVER}/checked/{checked_code}"  # type: ignore[attr-defined]
    checked = window.view.checked
    assert checked is not None
    assert [c for c in box.challenged_ballots() if c.ballot == checked.ballot]
    kiosk.click(screen.again)  # type: ignore[attr-defined]
    assert kiosk.state is State.BALLOT
    ballot = window.screens[State.BALLOT]
    assert ballot.selection() == {"mayor": []}  # type: ignore[attr-defined]  # a fresh ballot
    kiosk.pick("mayor", "sato")
    kiosk.click(ballot.next)  # type: ignore[attr-defined]
    kiosk.click(window.screens[State.REVIEW].confirm)  # type: ignore[attr-defined]
    kiosk.wait(State.CAST_OR_CHECK)
    assert window.view.tracking_code != checked_code
    kiosk.click(window.screens[State.CAST_OR_CHECK].cast)  # type: ignore[attr-defined]
    kiosk.wait(State.RECEIPT)
    receipt = window.view.receipt
    assert receipt is not None
    hashes = [c.ballot_hash for c in box.cast_ballots()]
    assert receipt.ballot_hash in hashes
    assert kiosk.session.health().ballots_checked == 1


def test_the_ballot_enforces_the_limits(kiosk: Kiosk) -> None:
    window = kiosk.window
    kiosk.to_ballot()
    screen = window.screens[State.BALLOT]
    kiosk.click(screen.next)  # type: ignore[attr-defined]  # nothing chosen: min is 1
    assert kiosk.state is State.BALLOT
    assert "1" in screen.message.text()  # type: ignore[attr-defined]
    kiosk.pick("mayor", "sato")
    kiosk.pick("mayor", "suzuki")  # one to choose: the new choice replaces the old one
    assert screen.selection() == {"mayor": ["suzuki"]}  # type: ignore[attr-defined]
    kiosk.click(screen.next)  # type: ignore[attr-defined]
    assert kiosk.state is State.REVIEW
    kiosk.click(window.screens[State.REVIEW].change)  # type: ignore[attr-defined]
    assert kiosk.state is State.BALLOT
    assert screen.selection() == {"mayor": ["suzuki"]}  # type: ignore[attr-defined]  # kept


PULL_ON = [State.PIN, State.BALLOT, State.REVIEW, State.CAST_OR_CHECK, State.HELP_DESK]


def test_a_card_pulled_on_each_screen_wipes_and_returns_to_welcome(kiosk: Kiosk) -> None:
    window = kiosk.window
    card = kiosk.new_card()
    for target in PULL_ON:
        kiosk.insert(card)
        kiosk.wait(State.PIN)
        if target is State.HELP_DESK:
            kiosk.click(window.screens[State.PIN].forgot)  # type: ignore[attr-defined]
        elif target is not State.PIN:
            kiosk.type_pin_on_screen(PIN)
            kiosk.wait(State.BALLOT)
            if target is not State.BALLOT:
                kiosk.pick("mayor", "sato")
                kiosk.click(window.screens[State.BALLOT].next)  # type: ignore[attr-defined]
            if target is State.CAST_OR_CHECK:
                kiosk.click(window.screens[State.REVIEW].confirm)  # type: ignore[attr-defined]
                kiosk.wait(State.CAST_OR_CHECK)
        assert kiosk.state is target
        kiosk.pull()
        assert window.stack.currentWidget() is window.pages[State.WELCOME]
        assert not kiosk.session.holds_identity() and not kiosk.session.holds_ballot()
        assert window.screens[State.BALLOT].selection() == {"mayor": []}  # type: ignore[attr-defined]
    assert kiosk.session.services.box.ballot_of(b"\0" * 20) is None


def test_inactivity_returns_to_welcome_and_resets_the_voters_settings(kiosk: Kiosk) -> None:
    window = kiosk.window
    kiosk.click(window.lang_buttons[Lang.EN])
    kiosk.click(window.large_button)
    kiosk.to_ballot()
    kiosk.pick("mayor", "sato")
    timeout = kiosk.session.services.inactivity_timeout
    kiosk.clock.advance(timeout - 5)
    kiosk.qtbot.wait(200)  # several ticks
    assert kiosk.state is State.BALLOT  # not yet
    kiosk.clock.advance(5)
    kiosk.wait(State.WELCOME)
    assert not kiosk.session.holds_ballot()
    assert window.lang is Lang.JA and not window.large  # the next voter starts afresh
    # The card was left on the reader: Start reads it again (no need to lift it).
    kiosk.click(window.screens[State.WELCOME].start)  # type: ignore[attr-defined]
    kiosk.wait(State.PIN)


def test_no_reader_and_a_card_that_is_not_a_my_number_card_are_explained(
    make_kiosk: Callable[..., Kiosk], slot: ReaderSlot
) -> None:
    kiosk = make_kiosk()
    window = kiosk.window
    kiosk.click(window.screens[State.WELCOME].start)  # type: ignore[attr-defined]
    other = OtherCardApplet(kiosk.new_card().to_image())
    slot.insert_applet(other)
    kiosk.qtbot.waitUntil(lambda: window.view.card_error == "not_jpki", timeout=20_000)
    screen = window.screens[State.INSERT_CARD]
    assert screen.problem.text() == tr("insert.not_jpki", Lang.JA)  # type: ignore[attr-defined]
    slot.pull()  # the voter takes the wrong card off: the screen stays, for the right one
    kiosk.qtbot.waitUntil(lambda: window.reader_event == "removed")
    kiosk.qtbot.waitUntil(lambda: window.view.card_error is None)
    assert kiosk.state is State.INSERT_CARD
    # A kiosk whose reader is missing says so.
    broken = make_kiosk(probe=False)
    broken.window.watcher = ReaderWatcher(
        pcsc_probe("No Such Reader 00 09"), broken.window.card_event.emit
    )
    broken.window.watcher.start()
    broken.click(broken.window.screens[State.WELCOME].start)  # type: ignore[attr-defined]
    text = broken.window.screens[State.INSERT_CARD].problem  # type: ignore[attr-defined]
    broken.qtbot.waitUntil(lambda: text.text() == tr("insert.no_reader", Lang.JA))


class OtherCardApplet(RecordingApplet):
    """A card without the JPKI application (a bank card, say): every SELECT fails."""

    def process(self, command: bytes) -> bytes:
        self.received.append(bytes(command))
        return bytes([0x6A, 0x82])


def test_keyboard_only_from_welcome_to_the_ballot(kiosk: Kiosk) -> None:
    window, bot = kiosk.window, kiosk.qtbot
    window.activateWindow()
    bot.waitUntil(window.isActiveWindow)
    start = window.screens[State.WELCOME].start  # type: ignore[attr-defined]
    assert QApplication.focusWidget() is start
    bot.keyClick(start, Qt.Key.Key_Return)
    assert kiosk.state is State.INSERT_CARD
    kiosk.insert()
    kiosk.wait(State.PIN)
    field_ = window.screens[State.PIN].field  # type: ignore[attr-defined]
    assert QApplication.focusWidget() is field_
    bot.keyClicks(field_, PIN)
    bot.keyClick(field_, Qt.Key.Key_Enter)
    kiosk.wait(State.BALLOT)
    focused = QApplication.focusWidget()
    assert isinstance(focused, QPushButton)
    bot.keyClick(focused, Qt.Key.Key_Space)  # the first option
    assert window.screens[State.BALLOT].selection() == {"mayor": ["sato"]}  # type: ignore[attr-defined]


def test_every_control_is_named_large_enough_and_readable(kiosk: Kiosk) -> None:
    window = kiosk.window
    views = [
        View(State.WELCOME),
        View(State.INSERT_CARD, card_error="unreadable"),
        View(State.PIN, tries_left=1, last_try_warning=True, pin_error="wrong_pin"),
        View(State.HELP_DESK, help_desk=HelpDeskReason.LOCKED),
        View(State.CHECKING),
        View(State.REFUSED, refusal=Refusal("expired")),
        View(State.ALREADY_VOTED),
        View(State.BALLOT, replaces_earlier=True),
        View(State.REMOVE_CARD),
        View(State.OUT_OF_SERVICE, error="ChainUnavailable"),
    ]
    for lang in LANGUAGES:
        kiosk.click(window.lang_buttons[lang])
        for view in views:
            window.display(view)
            for widget in window.findChildren(QWidget):
                if not widget.isVisibleTo(window):
                    continue
                if isinstance(widget, (QAbstractButton, QLineEdit)):
                    assert widget.accessibleName(), (view.state, widget)
                    assert widget.height() >= 64 and widget.width() >= 64, (view.state, widget)
                if isinstance(widget, QLabel) and widget.text():
                    assert QFontInfo(widget.font()).pixelSize() >= 20, (view.state, widget.text())
                    if widget.objectName() not in ("small", "election"):
                        assert QFontInfo(widget.font()).pixelSize() >= 24, widget.text()
            assert window.stack.currentWidget() is window.pages[view.state]
    window.display(View(State.WELCOME))


def test_a_card_pulled_on_the_checked_and_receipt_screens(kiosk: Kiosk) -> None:
    window = kiosk.window
    kiosk.to_ballot()
    kiosk.pick("mayor", "sato")
    kiosk.click(window.screens[State.BALLOT].next)  # type: ignore[attr-defined]
    kiosk.click(window.screens[State.REVIEW].confirm)  # type: ignore[attr-defined]
    kiosk.wait(State.CAST_OR_CHECK)
    kiosk.click(window.screens[State.CAST_OR_CHECK].check)  # type: ignore[attr-defined]
    kiosk.wait(State.CHECKED)
    kiosk.pull()
    assert not kiosk.session.holds_ballot() and not kiosk.session.holds_identity()
    vote(kiosk, kiosk.new_card(), "suzuki")
    kiosk.pull()  # on the receipt, without pressing Finish
    assert window.stack.currentWidget() is window.pages[State.WELCOME]
    assert not kiosk.session.holds_ballot()


def test_a_misconfigured_registrar_puts_the_kiosk_out_of_service(
    make_kiosk: Callable[..., Kiosk],
    manifest: Manifest,
    registrar: LiveRegistrar,
    registrar_key: RSAPrivateKey,
) -> None:
    other_key = embedded_election(
        manifest, registrar.public_key, pinned_key=registrar_key.public_key
    )
    kiosk = make_kiosk(election_=other_key)
    applet = kiosk.insert()
    kiosk.wait(State.PIN)
    kiosk.type_pin_on_screen(PIN)
    kiosk.wait(State.OUT_OF_SERVICE)
    screen = kiosk.window.screens[State.OUT_OF_SERVICE]
    assert "registrar_key_mismatch" in screen.detail.text()  # type: ignore[attr-defined]
    assert not any(c[1] == 0x2A for c in applet.received)  # the card signed nothing
    kiosk.click(screen.finish)  # type: ignore[attr-defined]
    assert kiosk.state is State.REMOVE_CARD
    kiosk.pull()


@pytest.fixture(scope="module")
def council(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveRegistrar, Any]]:
    manifest = manifest_from_dict(COUNCIL_MANIFEST)
    with registrar_service(tmp_path_factory.mktemp("council"), manifest) as live:
        yield live, embedded_election(manifest, live.public_key)


def test_a_choose_up_to_two_contest_enforces_its_maximum_and_warns_of_an_undervote(
    make_kiosk: Callable[..., Kiosk], council: tuple[LiveRegistrar, Any]
) -> None:
    registrar, election = council
    kiosk = make_kiosk(election_=election, registrar_=registrar)
    window = kiosk.window
    kiosk.to_ballot(registrar.card(new_resident()))
    screen = window.screens[State.BALLOT]
    limits = screen.contest_labels["council"][1]  # type: ignore[attr-defined]
    assert limits.text() == tr("ballot.limits.upto", Lang.JA, max=2)
    kiosk.pick("mayor", "sato")
    kiosk.pick("council", "ito")
    kiosk.pick("council", "kato")
    kiosk.pick("council", "mori")  # a third: refused, said so, the first two kept
    assert screen.selection()["council"] == ["ito", "kato"]  # type: ignore[attr-defined]
    note = screen.notes["council"]  # type: ignore[attr-defined]  # said in the contest itself
    assert note.isVisible() and note.text() == tr("ballot.full", Lang.JA)
    kiosk.pick("council", "kato")  # take one back: one of two chosen
    kiosk.click(screen.next)  # type: ignore[attr-defined]
    assert kiosk.state is State.BALLOT  # first press: the undervote is said
    assert screen.message.text() == tr(  # type: ignore[attr-defined]
        "ballot.undervote", Lang.JA, contest="市議会議員選挙", n=1
    )
    kiosk.click(screen.next)  # type: ignore[attr-defined]  # second press: go on
    assert kiosk.state is State.REVIEW
    assert window.view.choices == {"mayor": ["sato"], "council": ["ito"]}
    kiosk.click(window.screens[State.REVIEW].confirm)  # type: ignore[attr-defined]
    kiosk.wait(State.CAST_OR_CHECK)
    kiosk.click(window.screens[State.CAST_OR_CHECK].cast)  # type: ignore[attr-defined]
    kiosk.wait(State.RECEIPT)
    kiosk.pull()


class Unanswered(Exception):
    """Stands for the chain not answering right after the signed cast was written."""


class OutboxThenSilence(Outbox):
    def put(self, entry: OutboxEntry) -> OutboxEntry:
        super().put(entry)
        raise Unanswered()


def test_a_ballot_saved_but_not_yet_sent_is_said_plainly_with_its_code(kiosk: Kiosk) -> None:
    window, session = kiosk.window, kiosk.session
    session.services.outbox = OutboxThenSilence(session.services.outbox.directory)
    vote_until_cast(kiosk)
    kiosk.wait(State.QUEUED)
    screen = window.screens[State.QUEUED]
    code = window.view.tracking_code
    assert code is not None and screen.code.text().replace("\n", "") == code  # type: ignore[attr-defined]
    assert session.services.outbox.depth == 1  # safe on disk, to be sent by recover()
    kiosk.click(screen.finish)  # type: ignore[attr-defined]
    assert kiosk.state is State.REMOVE_CARD
    kiosk.pull()


def vote_until_cast(kiosk: Kiosk) -> None:
    kiosk.to_ballot()
    kiosk.pick("mayor", "tanaka")
    kiosk.click(kiosk.window.screens[State.BALLOT].next)  # type: ignore[attr-defined]
    kiosk.click(kiosk.window.screens[State.REVIEW].confirm)  # type: ignore[attr-defined]
    kiosk.wait(State.CAST_OR_CHECK)
    kiosk.click(kiosk.window.screens[State.CAST_OR_CHECK].cast)  # type: ignore[attr-defined]
