"""The real kiosk window (offscreen), driven as a voter would — taps and key presses — through
pcscd + the virtual card, the registrar service over HTTP and the BallotBox on the embedded
chain."""

from __future__ import annotations

from kiosk.core.session import State
from kiosk.ui.text import Lang, tr
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
    assert coc.code.text() == code  # type: ignore[attr-defined]
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
