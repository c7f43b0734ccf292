"""The voter's flow through the kiosk core, on real parts: pcscd + the virtual card, the
registrar service over HTTP, the BallotBox on the embedded chain."""

from __future__ import annotations

import threading
from pathlib import Path

from card_reader.testpki import Resident, VoterCard
from contracts.client import BallotBox
from election.ballot import tracking_code
from election.manifest import Manifest
from election.primitives.blind_rsa import RSAPrivateKey, RSAPublicKey
from kiosk.core.jobs import ThreadExecutor
from kiosk.core.outbox import Outbox, OutboxEntry
from kiosk.core.session import HelpDeskReason, Session, State
from kiosk.testing import (
    EmbeddedElection,
    FakeClock,
    LiveRegistrar,
    ReaderSlot,
    RecordingApplet,
    embedded_election,
    make_session,
    new_resident,
)
from registrar.client import RegistrarClient

PIN = "ABC123"
SIGN = 0x2A


def start(
    session: Session, slot: ReaderSlot, registrar: LiveRegistrar, resident: Resident | None = None
) -> RecordingApplet:
    applet = slot.insert(registrar.card(resident or new_resident()))
    session.begin()
    assert session.state is State.INSERT_CARD
    session.card_inserted()
    return applet


def cast_hashes(box: BallotBox) -> list[bytes]:
    return [c.ballot_hash for c in box.cast_ballots()]


def test_a_whole_vote_to_a_receipt(
    election: EmbeddedElection, registrar: LiveRegistrar, slot: ReaderSlot, outbox_dir: Path
) -> None:
    executor = ThreadExecutor()  # the window's way: jobs off the caller's thread
    session = make_session(election, registrar.client, slot, outbox_dir, executor=executor)
    seen: list[State] = []
    session.subscribe(lambda view: seen.append(view.state))
    applet = start(session, slot, registrar)
    executor.wait_idle()
    assert session.state is State.PIN and session.view.tries_left == 5
    assert not session.view.last_try_warning
    session.enter_pin(PIN)
    executor.wait_idle()
    executor.wait_idle()  # issuance, then the already-voted question to the contract
    assert session.state is State.BALLOT, session.view
    assert not session.view.replaces_earlier
    assert not session.holds_identity()  # the card handle is closed right after issuance
    assert applet.pin_verifications == 1
    session.choose({"mayor": ["suzuki"]})
    assert session.view.choices == {"mayor": ["suzuki"]}
    session.confirm()
    executor.wait_idle()
    assert session.state is State.CAST_OR_CHECK
    code = session.view.tracking_code
    assert code is not None
    session.cast()
    executor.wait_idle()
    assert session.state is State.RECEIPT, session.view
    receipt = session.view.receipt
    assert receipt is not None and receipt.tracking_code == code
    assert receipt.ballot_hash in cast_hashes(election.box)
    assert receipt.block_number <= election.chain.call(lambda w3: int(w3.eth.block_number))
    assert session.services.outbox.depth == 0  # confirmed, so removed
    assert not session.holds_ballot()
    session.finish()
    assert session.state is State.REMOVE_CARD
    slot.pull()
    session.card_removed()
    assert session.state is State.WELCOME
    assert seen[:4] == [State.INSERT_CARD, State.PIN, State.CHECKING, State.BALLOT]
    assert session.health().ballots_cast == 1
    executor.shutdown()


def test_wrong_pin_then_right_without_automatic_retry(
    election: EmbeddedElection, registrar: LiveRegistrar, slot: ReaderSlot, outbox_dir: Path
) -> None:
    session = make_session(election, registrar.client, slot, outbox_dir)
    applet = start(session, slot, registrar)
    session.enter_pin("WRONG9")
    assert session.state is State.PIN
    assert session.view.pin_error == "wrong_pin" and session.view.tries_left == 4
    assert applet.pin_verifications == 1  # exactly the one try the voter made
    session.enter_pin("ab-1")  # cannot be a PIN: refused before the card, no try used
    assert session.state is State.PIN and session.view.pin_error == "pin_format"
    assert session.view.tries_left == 4
    assert applet.pin_verifications == 1
    session.enter_pin(PIN.lower())  # the PIN is upper case; a lower-case entry is the same
    assert session.state is State.BALLOT, session.view
    assert applet.pin_verifications == 2
    health = session.health()
    assert (health.wrong_pin, health.locked) == (1, 0)


def test_warning_before_the_last_try_then_lock_sends_to_the_help_desk(
    election: EmbeddedElection, registrar: LiveRegistrar, slot: ReaderSlot, outbox_dir: Path
) -> None:
    session = make_session(election, registrar.client, slot, outbox_dir)
    resident = new_resident()
    card = registrar.card(resident)
    applet = slot.insert(card)
    session.begin()
    session.card_inserted()
    for left in (4, 3, 2, 1):
        session.enter_pin("WRONG9")
        assert session.view.tries_left == left
        assert session.view.last_try_warning is (left == 1)
    session.enter_pin("WRONG9")
    assert session.state is State.HELP_DESK
    assert session.view.help_desk is HelpDeskReason.LOCKED
    assert applet.pin_verifications == 5
    assert not any(c[1] == SIGN for c in applet.received)
    health = session.health()
    assert (health.wrong_pin, health.locked) == (5, 1)
    # The locked card, inserted again, goes straight to the help desk without a VERIFY try.
    session.finish()
    session.card_removed()
    slot.pull()
    locked_image = slot.insert_applet(applet)  # the same, locked card again
    before = locked_image.pin_verifications
    session.begin()
    session.card_inserted()
    assert session.state is State.HELP_DESK
    assert session.view.help_desk is HelpDeskReason.LOCKED
    assert locked_image.pin_verifications == before


def test_forgotten_pin_goes_to_the_help_desk(
    election: EmbeddedElection, registrar: LiveRegistrar, slot: ReaderSlot, outbox_dir: Path
) -> None:
    session = make_session(election, registrar.client, slot, outbox_dir)
    applet = start(session, slot, registrar)
    session.forgot_pin()
    assert session.state is State.HELP_DESK
    assert session.view.help_desk is HelpDeskReason.FORGOTTEN
    assert applet.pin_verifications == 0
    assert session.health().forgotten_pin == 1


def test_a_registrar_refusal_is_shown_with_its_reason(
    election: EmbeddedElection, registrar: LiveRegistrar, slot: ReaderSlot, outbox_dir: Path
) -> None:
    session = make_session(election, registrar.client, slot, outbox_dir)
    start(session, slot, registrar, new_resident("東京都千代田区千代田"))
    session.enter_pin(PIN)
    assert session.state is State.REFUSED
    refusal = session.view.refusal
    assert refusal is not None and refusal.code == "other_municipality"
    assert refusal.message_ja and refusal.message_en
    assert not session.holds_identity() and not session.holds_ballot()
    assert session.health().refused == 1


def test_already_voted_is_said_before_any_ballot(
    election: EmbeddedElection, registrar: LiveRegistrar, slot: ReaderSlot, outbox_dir: Path
) -> None:
    resident = new_resident()
    card = registrar.card(resident)
    session = make_session(election, registrar.client, slot, outbox_dir)
    vote(session, slot, card, {"mayor": ["sato"]})
    assert session.state is State.RECEIPT
    count = len(cast_hashes(election.box))
    session.finish()
    session.card_removed()
    slot.insert(card)
    session.begin()
    session.card_inserted()
    session.enter_pin(PIN)
    assert session.state is State.ALREADY_VOTED
    assert not session.holds_ballot()
    assert len(cast_hashes(election.box)) == count


def test_revote_says_the_new_ballot_replaces_the_earlier_one(
    manifest: Manifest,
    registrar: LiveRegistrar,
    slot: ReaderSlot,
    outbox_dir: Path,
) -> None:
    revote = embedded_election(manifest, registrar.public_key, revote_allowed=True)
    card = registrar.card(new_resident())
    session = make_session(revote, registrar.client, slot, outbox_dir)
    vote(session, slot, card, {"mayor": ["sato"]})
    assert session.state is State.RECEIPT
    session.finish()
    session.card_removed()
    slot.insert(card)
    session.begin()
    session.card_inserted()
    session.enter_pin(PIN)
    assert session.state is State.BALLOT and session.view.replaces_earlier


def vote(
    session: Session, slot: ReaderSlot, card: VoterCard, choices: dict[str, list[str]]
) -> None:
    slot.insert(card)
    session.begin()
    session.card_inserted()
    session.enter_pin(PIN)
    assert session.state is State.BALLOT, session.view
    session.choose(choices)
    session.confirm()
    session.cast()


def test_check_then_cast(
    election: EmbeddedElection, registrar: LiveRegistrar, slot: ReaderSlot, outbox_dir: Path
) -> None:
    session = make_session(election, registrar.client, slot, outbox_dir)
    start(session, slot, registrar)
    session.enter_pin(PIN)
    session.choose({"mayor": ["tanaka"]})
    session.confirm()
    checked_code = session.view.tracking_code
    session.check()
    assert session.state is State.CHECKED
    checked = session.view.checked
    assert checked is not None and checked.tracking_code == checked_code
    on_chain = [c for c in election.box.challenged_ballots() if c.ballot == checked.ballot]
    assert len(on_chain) == 1 and on_chain[0].master_nonce == checked.master_nonce
    session.vote_again()
    assert session.state is State.BALLOT
    session.choose({"mayor": ["sato"]})
    session.confirm()
    assert session.view.tracking_code != checked_code  # a fresh encryption
    session.cast()
    assert session.state is State.RECEIPT
    hashes = cast_hashes(election.box)
    receipt = session.view.receipt
    assert receipt is not None and receipt.ballot_hash in hashes
    assert on_chain[0].ballot_hash not in hashes
    assert session.health().ballots_checked == 1


def test_card_pulled_mid_session_wipes_everything(
    election: EmbeddedElection, registrar: LiveRegistrar, slot: ReaderSlot, outbox_dir: Path
) -> None:
    session = make_session(election, registrar.client, slot, outbox_dir)
    applet = start(session, slot, registrar)
    slot.pull()
    session.card_removed()  # on the PIN screen
    assert session.state is State.WELCOME and not session.holds_identity()
    assert applet.pin_verifications == 0
    start(session, slot, registrar)
    session.enter_pin(PIN)
    session.choose({"mayor": ["sato"]})
    assert session.state is State.REVIEW and session.holds_ballot()
    slot.pull()
    session.card_removed()  # on the review screen
    assert session.state is State.WELCOME
    assert session.view.choices is None
    assert not session.holds_ballot() and not session.holds_identity()


def test_inactivity_timeout_returns_to_welcome_and_wipes(
    election: EmbeddedElection, registrar: LiveRegistrar, slot: ReaderSlot, outbox_dir: Path
) -> None:
    clock = FakeClock()
    session = make_session(
        election, registrar.client, slot, outbox_dir, clock=clock, inactivity_timeout=90
    )
    start(session, slot, registrar)
    session.enter_pin(PIN)
    session.choose({"mayor": ["suzuki"]})
    clock.advance(89)
    session.tick()
    assert session.state is State.REVIEW
    clock.advance(1)
    session.tick()
    assert session.state is State.WELCOME
    assert not session.holds_ballot() and not session.holds_identity()


def test_a_registrar_with_another_key_is_refused_before_blinding(
    manifest: Manifest,
    registrar: LiveRegistrar,
    registrar_key: RSAPrivateKey,
    slot: ReaderSlot,
    outbox_dir: Path,
) -> None:
    misconfigured = embedded_election(
        manifest, registrar.public_key, pinned_key=registrar_key.public_key
    )
    session = make_session(misconfigured, registrar.client, slot, outbox_dir)
    applet = start(session, slot, registrar)
    session.enter_pin(PIN)
    assert session.state is State.OUT_OF_SERVICE
    assert session.view.refusal is not None
    assert session.view.refusal.code == "registrar_key_mismatch"
    assert not any(c[1] == SIGN for c in applet.received)  # the card signed nothing


class Crash(Exception):
    """Stands for the process dying: raised right after the outbox's fsync."""


class DyingOutbox(Outbox):
    def put(self, entry: OutboxEntry) -> OutboxEntry:
        super().put(entry)
        raise Crash()


def test_a_kiosk_crash_between_cast_and_broadcast_lands_the_ballot_once(
    election: EmbeddedElection, registrar: LiveRegistrar, slot: ReaderSlot, outbox_dir: Path
) -> None:
    card = registrar.card(new_resident())
    session = make_session(election, registrar.client, slot, outbox_dir)
    session.services.outbox = DyingOutbox(outbox_dir)
    before = len(cast_hashes(election.box))
    vote(session, slot, card, {"mayor": ["tanaka"]})
    assert session.state is State.QUEUED  # what the voter sees if the kiosk survives at all
    code = session.view.tracking_code
    assert len(cast_hashes(election.box)) == before  # nothing was broadcast
    # Restart: a new session over the same outbox directory settles it before voting resumes.
    restarted = make_session(election, registrar.client, slot, outbox_dir)
    assert restarted.services.outbox.depth == 1
    outcomes: list[list[str]] = []
    restarted.recover(lambda settled: outcomes.append([s.outcome for s in settled]))
    restarted.recover(lambda settled: outcomes.append([s.outcome for s in settled]))
    assert outcomes == [["sent"], ["confirmed"]]
    hashes = cast_hashes(election.box)
    assert len(hashes) == before + 1
    assert tracking_code(hashes[-1]) == code
    # The same voter comes back: the kiosk says the ballot is already in.
    slot.pull()
    vote_again = restarted
    slot.insert(card)
    vote_again.begin()
    vote_again.card_inserted()
    vote_again.enter_pin(PIN)
    assert vote_again.state is State.ALREADY_VOTED
    assert len(cast_hashes(election.box)) == before + 1


class HeldRegistrar:
    """The real registrar client, with ``issue`` held until the test lets it go (a slow
    network): to pull the card while issuance is in flight."""

    def __init__(self, client: RegistrarClient) -> None:
        self.client = client
        self.kiosk_id = client.kiosk_id
        self.entered = threading.Event()
        self.release = threading.Event()

    def info(self) -> tuple[bytes, RSAPublicKey]:
        return self.client.info()

    def challenge(self) -> bytes:
        return self.client.challenge()

    def issue(self, *args: bytes) -> bytes:
        self.entered.set()
        assert self.release.wait(30)
        return self.client.issue(*args)


def test_a_card_pulled_while_issuance_runs_leaves_nothing_behind(
    election: EmbeddedElection, registrar: LiveRegistrar, slot: ReaderSlot, outbox_dir: Path
) -> None:
    executor = ThreadExecutor()
    session = make_session(election, registrar.client, slot, outbox_dir, executor=executor)
    held = HeldRegistrar(registrar.client)
    session.services.registrar = held
    start(session, slot, registrar)
    executor.wait_idle()
    session.enter_pin(PIN)
    assert held.entered.wait(30)
    assert session.state is State.CHECKING
    session.card_removed()  # the voter walks away mid-issuance
    assert session.state is State.WELCOME
    held.release.set()
    executor.wait_idle()
    executor.wait_idle()
    assert session.state is State.WELCOME  # the late answer was dropped, not shown
    assert not session.holds_ballot() and not session.holds_identity()
    executor.shutdown()


class OtherCardApplet(RecordingApplet):
    """A card without the JPKI application (a bank card, say): every SELECT fails."""

    def process(self, command: bytes) -> bytes:
        self.received.append(bytes(command))
        return bytes([0x6A, 0x82])  # file or application not found


def test_no_card_and_a_card_that_is_not_a_my_number_card_are_explained(
    election: EmbeddedElection, registrar: LiveRegistrar, slot: ReaderSlot, outbox_dir: Path
) -> None:
    session = make_session(election, registrar.client, slot, outbox_dir)
    session.begin()
    session.card_inserted()  # a spurious event: the reader is empty
    assert session.state is State.INSERT_CARD and session.view.card_error == "no_card"
    other = OtherCardApplet(registrar.card(new_resident()).to_image())
    slot.insert_applet(other)
    session.card_inserted()
    assert session.state is State.INSERT_CARD
    assert session.view.card_error == "not_jpki"
    assert session.health().reader.value == "unreadable"
    assert not session.holds_identity()
