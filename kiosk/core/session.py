"""One voter's session at the kiosk: a state machine with no Qt in it.

The window, the demo and load tests drive it through the voter's events (:meth:`Session.begin`,
:meth:`card_inserted`, :meth:`enter_pin`, …) and show :attr:`Session.view`. Card, registrar and
chain calls run as background jobs on the injected :class:`~kiosk.core.jobs.Executor`; a job
started before the card was pulled (or the session timed out) finds a newer *generation* when
it finishes and is ignored.

What is wiped when (see ``docs/kiosk.md``):

* right after issuance: the card handle is closed; the certificate and the card's signatures
  never leave :func:`~kiosk.core.tokenflow.obtain_token`;
* after casting: the ballot's nonce and choices (only the receipt stays on screen);
* on card removal, an inactivity timeout, or :meth:`Session.finish`: everything.
"""

from __future__ import annotations

import contextlib
import enum
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, TypeVar

from card_reader.errors import (
    CardError,
    CardNotPresent,
    CardRemoved,
    InvalidPinFormat,
    NoReader,
    NotJPKICard,
    PinLocked,
    WrongPin,
)
from contracts.chain import Sender
from contracts.client import BallotBox
from election.ballot import EncryptedBallot, PlaintextBallot, encrypt_ballot
from election.context import ElectionContext
from kiosk.core import casting
from kiosk.core.health import HealthCounters, KioskHealth, ReaderState
from kiosk.core.jobs import Executor, InlineExecutor
from kiosk.core.outbox import Outbox, OutboxConflict, Settled
from kiosk.core.tokenflow import IssuedToken, Registrar, TokenFlowError, obtain_token, pinned_key_of
from registrar.client import RegistrarRefused

T = TypeVar("T")


class State(enum.Enum):
    WELCOME = "welcome"
    INSERT_CARD = "insert_card"
    PIN = "pin"
    HELP_DESK = "help_desk"
    CHECKING = "checking"
    REFUSED = "refused"
    ALREADY_VOTED = "already_voted"
    BALLOT = "ballot"
    REVIEW = "review"
    CAST_OR_CHECK = "cast_or_check"
    CHECKED = "checked"
    SENDING = "sending"
    RECEIPT = "receipt"
    QUEUED = "queued"
    """The ballot is signed and safe in the outbox but the chain did not answer in time: it
    will be sent (again) until confirmed. The tracking code is shown."""
    REMOVE_CARD = "remove_card"
    OUT_OF_SERVICE = "out_of_service"


class HelpDeskReason(enum.Enum):
    LOCKED = "locked"
    FORGOTTEN = "forgotten"


# States in which a background job is running that must not be cut short by the inactivity
# timeout (the voter is waiting for the kiosk, not the other way round).
_BUSY = {State.CHECKING, State.SENDING}


class KioskCard(Protocol):
    """The card as the session uses it (:class:`card_reader.abc.JPKICard`)."""

    def signature_pin_tries_left(self) -> int | None: ...

    def verify_signature_pin(self, pin: str) -> None: ...

    def read_signature_certificate(self) -> bytes: ...

    def sign_sha256(self, digest: bytes) -> bytes: ...

    def close(self) -> None: ...


@dataclass
class Services:
    """Everything the session talks to, injected."""

    kiosk_id: str
    context: ElectionContext
    open_card: Callable[[], KioskCard]
    registrar: Registrar
    box: BallotBox
    sender: Sender
    outbox: Outbox
    executor: Executor = field(default_factory=InlineExecutor)
    clock: Callable[[], float] = time.monotonic
    confirmations: int = 1
    inactivity_timeout: float = 120.0
    cast_timeout: float = 60.0
    encrypt: Callable[[ElectionContext, PlaintextBallot, bytes], EncryptedBallot] = encrypt_ballot
    """How the kiosk encrypts (the core's :func:`~election.ballot.encrypt_ballot`). Only a
    fault drill replaces it — the demo's broken kiosk that corrupts a proof, whose ballot the
    tally must then exclude."""


@dataclass(frozen=True)
class Refusal:
    code: str
    message_ja: str = ""
    message_en: str = ""


@dataclass(frozen=True)
class View:
    """What the screen shows. Holds no identity: no certificate, name or card signature."""

    state: State
    tries_left: int | None = None
    last_try_warning: bool = False
    pin_error: str | None = None
    """``wrong_pin`` or ``pin_format`` after the voter's last attempt."""
    card_error: str | None = None
    """Why the inserted card could not be used: ``no_reader``, ``no_card``, ``not_jpki``,
    ``unreadable``."""
    help_desk: HelpDeskReason | None = None
    refusal: Refusal | None = None
    replaces_earlier: bool = False
    """Re-voting is allowed and this token has a ballot on chain: the new one replaces it."""
    choices: Mapping[str, Sequence[str]] | None = None
    tracking_code: str | None = None
    checked: casting.CheckedBallot | None = None
    receipt: casting.Receipt | None = None
    error: str | None = None


class Session:
    def __init__(self, services: Services) -> None:
        self.services = services
        self._lock = threading.RLock()
        self._generation = 0
        self._listeners: list[Callable[[View], None]] = []
        self._counters = HealthCounters()
        self._card: KioskCard | None = None
        self._token: IssuedToken | None = None
        self._plain: PlaintextBallot | None = None
        self._encrypted: tuple[EncryptedBallot, bytes] | None = None
        self._last_activity = services.clock()
        self.view = View(State.WELCOME)

    # --- observation ----------------------------------------------------------------------------
    def subscribe(self, listener: Callable[[View], None]) -> None:
        self._listeners.append(listener)

    @property
    def state(self) -> State:
        return self.view.state

    def health(self) -> KioskHealth:
        return self._counters.snapshot(
            self.services.kiosk_id, self.services.clock(), self.services.outbox.depth
        )

    def holds_identity(self) -> bool:
        """Whether anything tied to the voter is still held (the card handle)."""
        return self._card is not None

    def holds_ballot(self) -> bool:
        return self._token is not None or self._plain is not None or self._encrypted is not None

    def _show(self, view: View) -> None:
        self.view = view
        for listener in list(self._listeners):
            listener(view)

    def _touch(self) -> None:
        self._last_activity = self.services.clock()

    def _expect(self, *states: State) -> None:
        if self.view.state not in states:
            raise InvalidTransition(self.view.state, states)

    def _run(
        self,
        job: Callable[[], T],
        on_success: Callable[[T], None],
        on_failure: Callable[[Exception], None],
        on_stale: Callable[[T], None] | None = None,
    ) -> None:
        generation = self._generation

        def ok(result: T) -> None:
            with self._lock:
                if generation == self._generation:
                    on_success(result)
                elif on_stale is not None:
                    on_stale(result)  # e.g. close a card opened for a session that is gone

        def failed(exc: Exception) -> None:
            with self._lock:
                if generation == self._generation:
                    on_failure(exc)

        self.services.executor.submit(job, ok, failed)

    # --- wiping ---------------------------------------------------------------------------------
    def _close_card(self) -> None:
        card, self._card = self._card, None
        if card is not None:
            with contextlib.suppress(CardError):
                card.close()

    def reset(self) -> None:
        """Back to welcome with nothing of the last voter kept. Any running job is orphaned."""
        with self._lock:
            self._generation += 1
            self._close_card()
            self._token = None
            self._plain = None
            self._encrypted = None
            self._touch()
            self._show(View(State.WELCOME))

    # --- kiosk events ---------------------------------------------------------------------------
    def recover(self, on_done: Callable[[list[Settled]], None] | None = None) -> None:
        """At start, before any new cast: re-broadcast what the outbox holds (a crash between
        "cast" and confirmation), remove what is confirmed, then let the sender re-read its
        nonce from the chain. Call it again periodically while the outbox is not empty."""
        s = self.services

        def job() -> list[Settled]:
            settled = s.outbox.settle(s.box.chain, s.confirmations)
            s.sender.reset_nonce()
            return settled

        s.executor.submit(job, on_done or (lambda _: None), self._recover_failed)

    def _recover_failed(self, exc: Exception) -> None:
        with self._lock:
            if self.view.state is State.WELCOME:
                self._show(View(State.OUT_OF_SERVICE, error=f"{type(exc).__name__}: {exc}"[:300]))

    # --- voter events ---------------------------------------------------------------------------
    def begin(self) -> None:
        """Welcome → insert card (the voter touched *start*)."""
        with self._lock:
            self._expect(State.WELCOME)
            self._touch()
            self._show(View(State.INSERT_CARD))

    def card_inserted(self) -> None:
        """The reader reports a card: open it and ask the card (not the voter) for tries left."""
        with self._lock:
            self._expect(State.WELCOME, State.INSERT_CARD)
            self._touch()
            self._counters.reader = ReaderState.CARD

        def job() -> tuple[KioskCard, int | None]:
            card = self.services.open_card()
            try:
                return card, card.signature_pin_tries_left()
            except BaseException:
                card.close()
                raise

        def ok(result: tuple[KioskCard, int | None]) -> None:
            self._card, tries = result
            self._show(View(State.PIN, tries_left=tries, last_try_warning=tries == 1))

        def failed(exc: Exception) -> None:
            if isinstance(exc, PinLocked):
                self._counters.locked += 1
                self._show(View(State.HELP_DESK, help_desk=HelpDeskReason.LOCKED))
                return
            reason = _card_error(exc)
            if reason == "no_reader":
                self._counters.reader = ReaderState.NO_READER
            elif reason != "no_card":
                self._counters.reader = ReaderState.UNREADABLE
            self._show(View(State.INSERT_CARD, card_error=reason))

        def stale(result: tuple[KioskCard, int | None]) -> None:
            with contextlib.suppress(CardError):
                result[0].close()

        self._run(job, ok, failed, stale)

    def card_removed(self) -> None:
        """The card left the reader: whatever the screen, start over and wipe."""
        with self._lock:
            self._counters.reader = ReaderState.EMPTY
            self.reset()

    def forgot_pin(self) -> None:
        with self._lock:
            self._expect(State.PIN)
            self._touch()
            self._counters.forgotten_pin += 1
            self._close_card()
            self._show(View(State.HELP_DESK, help_desk=HelpDeskReason.FORGOTTEN))

    def enter_pin(self, pin: str) -> None:
        """One VERIFY, exactly once, because the voter pressed OK. Never retried."""
        with self._lock:
            self._expect(State.PIN)
            self._touch()
            card = self._card
            if card is None:
                raise InvalidTransition(self.view.state, (State.PIN,))
            previous = self.view
            self._show(View(State.CHECKING))

        def verify_and_issue() -> IssuedToken:
            card.verify_signature_pin(pin)
            return self._issue(card)

        def failed(exc: Exception) -> None:
            if isinstance(exc, WrongPin) and exc.tries_left == 0:
                # That was the last try: the card is locked now.
                self._counters.wrong_pin += 1
                self._counters.locked += 1
                self._close_card()
                self._show(View(State.HELP_DESK, help_desk=HelpDeskReason.LOCKED))
            elif isinstance(exc, WrongPin):
                self._counters.wrong_pin += 1
                self._show(
                    View(
                        State.PIN,
                        tries_left=exc.tries_left,
                        last_try_warning=exc.tries_left == 1,
                        pin_error="wrong_pin",
                    )
                )
            elif isinstance(exc, InvalidPinFormat):
                self._show(replace(previous, pin_error="pin_format"))
            elif isinstance(exc, PinLocked):
                self._counters.locked += 1
                self._close_card()
                self._show(View(State.HELP_DESK, help_desk=HelpDeskReason.LOCKED))
            else:
                self._issuance_failed(exc)

        self._run(verify_and_issue, self._issued, failed)

    def _issue(self, card: KioskCard) -> IssuedToken:
        box = self.services.box
        pinned = pinned_key_of(*box.registrar_key())
        return obtain_token(
            card, self.services.registrar, self.services.context.election_id, pinned
        )

    def _issued(self, token: IssuedToken) -> None:
        # Identity is no longer needed: drop the card handle now, before any ballot is shown.
        self._close_card()
        self._token = token

        def job() -> tuple[bool, bool]:
            box = self.services.box
            on_chain = box.ballot_of(token.address) is not None
            waiting = self.services.outbox.get(token.address) is not None
            return on_chain or waiting, box.revote_allowed()

        def ok(result: tuple[bool, bool]) -> None:
            voted, revote = result
            if voted and not revote:
                self._token = None
                self._show(View(State.ALREADY_VOTED))
            else:
                self._show(View(State.BALLOT, replaces_earlier=voted))

        self._run(job, ok, self._service_failed)

    def _issuance_failed(self, exc: Exception) -> None:
        self._close_card()
        if isinstance(exc, RegistrarRefused):
            self._counters.refused += 1
            self._show(
                View(State.REFUSED, refusal=Refusal(exc.code, exc.message_ja, exc.message_en))
            )
        elif isinstance(exc, TokenFlowError):
            self._show(View(State.OUT_OF_SERVICE, refusal=Refusal(exc.code), error=str(exc)))
        elif isinstance(exc, CardError):
            self._show(View(State.INSERT_CARD, card_error=_card_error(exc)))
        else:
            self._service_failed(exc)

    def _service_failed(self, exc: Exception) -> None:
        self._close_card()
        self._show(View(State.OUT_OF_SERVICE, error=f"{type(exc).__name__}: {exc}"[:300]))

    def choose(self, choices: Mapping[str, Sequence[str]]) -> None:
        """Ballot → review. Limits are enforced by the manifest (``BallotError`` names them)."""
        with self._lock:
            self._expect(State.BALLOT)
            self._touch()
            manifest = self.services.context.manifest
            self._plain = PlaintextBallot.from_choices(manifest, choices)
            self._show(
                View(
                    State.REVIEW,
                    choices=self._plain.choices(manifest),
                    replaces_earlier=self.view.replaces_earlier,
                )
            )

    def change_choices(self) -> None:
        with self._lock:
            self._expect(State.REVIEW, State.CAST_OR_CHECK)
            self._touch()
            self._encrypted = None
            self._show(View(State.BALLOT, replaces_earlier=self.view.replaces_earlier))

    def confirm(self) -> None:
        """Review → encrypt with proofs → cast or check (the tracking code is shown)."""
        with self._lock:
            self._expect(State.REVIEW)
            self._touch()
            plain = self._plain
            assert plain is not None
            view = self.view

        def job() -> tuple[EncryptedBallot, bytes]:
            nonce = casting.new_master_nonce()
            return self.services.encrypt(self.services.context, plain, nonce), nonce

        def ok(result: tuple[EncryptedBallot, bytes]) -> None:
            self._encrypted = result
            self._show(
                replace(view, state=State.CAST_OR_CHECK, tracking_code=result[0].tracking_code)
            )

        self._run(job, ok, self._service_failed)

    def check(self) -> None:
        """Benaloh challenge: publish this ballot with its nonce; it will never count."""
        with self._lock:
            self._expect(State.CAST_OR_CHECK)
            self._touch()
            encrypted, token = self._encrypted, self._token
            assert encrypted is not None and token is not None
            self._encrypted = None
            view = self.view
            self._show(replace(view, state=State.SENDING))

        def job() -> casting.CheckedBallot:
            s = self.services
            # The check names this session's token: the contract then refuses this ballot
            # from this token for ever (docs/chain.md, one storage slot per token).
            return casting.check(s.box, s.sender, encrypted[0], encrypted[1], token.address)

        def ok(checked: casting.CheckedBallot) -> None:
            self._counters.ballots_checked += 1
            self._touch()
            self._show(replace(view, state=State.CHECKED, checked=checked, tracking_code=None))

        self._run(job, ok, self._service_failed)

    def vote_again(self) -> None:
        """After a check: fill in a new ballot (the checked one is gone)."""
        with self._lock:
            self._expect(State.CHECKED)
            self._touch()
            self._plain = None
            self._show(View(State.BALLOT, replaces_earlier=self.view.replaces_earlier))

    def cast(self) -> None:
        with self._lock:
            self._expect(State.CAST_OR_CHECK)
            self._touch()
            encrypted, token = self._encrypted, self._token
            assert encrypted is not None and token is not None
            self._show(View(State.SENDING))

        def job() -> casting.Receipt:
            s = self.services
            return casting.cast(
                s.box,
                s.sender,
                s.outbox,
                token,
                encrypted[0],
                confirmations=s.confirmations,
                timeout=s.cast_timeout,
            )

        def ok(receipt: casting.Receipt) -> None:
            self._counters.ballots_cast += 1
            # The ballot's nonce and choices, and the token, are of no use any more.
            self._token = self._plain = self._encrypted = None
            self._touch()
            self._show(View(State.RECEIPT, receipt=receipt))

        def failed(exc: Exception) -> None:
            queued = self.services.outbox.get(token.address)
            self._token = self._plain = self._encrypted = None
            if isinstance(exc, casting.CastRefused):
                self._show(View(State.REFUSED, refusal=Refusal(exc.name)))
            elif isinstance(exc, OutboxConflict):
                self._show(View(State.REFUSED, refusal=Refusal("ballot_pending", str(exc))))
            elif queued is not None and queued.ballot_hash == encrypted[0].ballot_hash:
                self._show(View(State.QUEUED, tracking_code=encrypted[0].tracking_code))
            else:
                self._service_failed(exc)

        self._run(job, ok, failed)

    def finish(self) -> None:
        """Receipt (or any end screen) → remove card; the reader's removal then resets."""
        with self._lock:
            self._expect(
                State.RECEIPT,
                State.QUEUED,
                State.REFUSED,
                State.ALREADY_VOTED,
                State.HELP_DESK,
                State.OUT_OF_SERVICE,
            )
            self._generation += 1
            self._close_card()
            self._token = self._plain = self._encrypted = None
            self._touch()
            self._show(View(State.REMOVE_CARD))

    def tick(self) -> None:
        """Called periodically: after ``inactivity_timeout`` without a voter event, wipe."""
        with self._lock:
            if self.view.state is State.WELCOME or self.view.state in _BUSY:
                return
            if self.services.clock() - self._last_activity >= self.services.inactivity_timeout:
                self.reset()


class InvalidTransition(Exception):
    def __init__(self, state: State, expected: Sequence[State]) -> None:
        names = ", ".join(s.value for s in expected)
        super().__init__(f"not possible on the {state.value} screen (only on: {names})")
        self.state = state


def _card_error(exc: Exception) -> str:
    if isinstance(exc, NoReader):
        return "no_reader"
    if isinstance(exc, (CardNotPresent, CardRemoved)):
        return "no_card"
    if isinstance(exc, NotJPKICard):
        return "not_jpki"
    return "unreadable"
