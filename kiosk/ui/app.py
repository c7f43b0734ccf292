"""``ippyo kiosk run``: build the kiosk from its configuration and run the window.

The election context is rebuilt from the configuration (manifest, trustees, joint key) and the
contract (the pinned registrar key, the re-vote policy, the chain id); its base hash must equal
the one the contract stores, or the kiosk refuses to start — ballots made for another context
would never verify.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication

from card_reader.pcsc import PcscCard, reader_names
from card_reader.stack import VIRTUAL_READER, ensure_pcscd, stop_pcscd
from card_reader.virtual_card import JPKIApplet, VpcdCard
from contracts.chain import Chain, Sender
from contracts.client import BallotBox
from election.context import ElectionContext
from kiosk.config import KioskConfig
from kiosk.core.healthreport import HealthReporter
from kiosk.core.jobs import ThreadExecutor
from kiosk.core.outbox import Outbox
from kiosk.core.session import KioskCard, Services, Session
from kiosk.core.tokenflow import pinned_key_of
from kiosk.ui.reader import pcsc_probe
from kiosk.ui.text import Lang
from kiosk.ui.window import KioskWindow, UiOptions, ui_executor
from registrar.client import RegistrarClient

log = logging.getLogger(__name__)


class StartupError(Exception):
    """The kiosk cannot start (the chain does not answer, the contract is another election)."""


@dataclass
class VirtualCard:
    """A test card image served to one of vpcd's readers; F9 pulls it out and puts it back."""

    image: Path
    slot: int = 0
    served: VpcdCard | None = None

    def insert(self) -> None:
        applet = JPKIApplet.from_file(self.image)
        self.served = VpcdCard(applet, reader=self.slot)
        self.served.insert()

    def toggle(self) -> None:
        if self.served is None:
            self.insert()
        else:
            self.served.remove()
            self.served = None


def election_context(config: KioskConfig, box: BallotBox) -> ElectionContext:
    pinned = pinned_key_of(*box.registrar_key())
    context = ElectionContext(
        config.manifest,
        config.trustees,
        config.quorum,
        config.joint_public_key,
        pinned,
        box.chain.chain_id,
        bytes.fromhex(config.contract[2:]),
        revote_allowed=box.revote_allowed(),
    )
    if context.base_hash != box.base_hash():
        raise StartupError(
            "the configured election (manifest, trustees, quorum, joint key) is not the one "
            f"the contract {config.contract} was deployed for (base hash differs)"
        )
    return context


@dataclass
class Kiosk:
    """A built kiosk: the window and what must be stopped when it closes."""

    window: KioskWindow
    executor: ThreadExecutor
    card: VirtualCard | None = None
    pcscd: subprocess.Popen[bytes] | None = None

    def close(self) -> None:
        self.window.shutdown()
        self.executor.wait_idle()
        self.executor.shutdown()
        if self.card is not None and self.card.served is not None:
            self.card.served.remove()
            self.card.served = None
        stop_pcscd(self.pcscd)


def build(config: KioskConfig, virtual_card: Path | None = None, *, virtual_slot: int = 0) -> Kiosk:
    """Connect to the chain, check the election, and make the window (not shown yet).
    A QApplication must exist."""
    chain = Chain.connect(list(config.rpc_urls))
    try:
        box = BallotBox(chain, config.contract)
        context = election_context(config, box)
    except StartupError:
        raise
    except Exception as exc:
        raise StartupError(f"the chain or contract does not answer: {exc}") from exc
    sender = Sender.from_key(chain, config.kiosk_key)

    image = virtual_card or config.card_image
    card: VirtualCard | None = None
    pcscd = None
    if image is not None:
        pcscd = ensure_pcscd()
        card = VirtualCard(image, virtual_slot)
        card.insert()
        reader = VIRTUAL_READER[:-2] + f"{virtual_slot:02d}"
    else:
        reader = config.card_reader or next(iter(reader_names()), "")
        if not reader:
            raise StartupError("no card reader found (is pcscd running?)")

    def open_card() -> KioskCard:
        return PcscCard.connect(reader)

    executor = ui_executor()
    session = Session(
        Services(
            kiosk_id=config.kiosk_id,
            context=context,
            open_card=open_card,
            registrar=RegistrarClient(
                config.registrar_url, config.kiosk_id, config.registrar_secret
            ),
            box=box,
            sender=sender,
            outbox=Outbox(config.outbox_dir),
            executor=executor,
            confirmations=config.confirmations,
            inactivity_timeout=config.inactivity_timeout,
        )
    )
    window = KioskWindow(
        session,
        UiOptions(
            config.observer_base_url,
            language=Lang(config.language),
            printer=config.printer,
            pdf_dir=config.pdf_dir,
        ),
        reader_probe=pcsc_probe(reader),
    )
    if card is not None:
        shortcut = QShortcut(QKeySequence("F9"), window)
        shortcut.activated.connect(card.toggle)
    if config.health_url and config.health_secret:
        reporter = HealthReporter(
            session.health, config.health_url, config.kiosk_id, config.health_secret
        )
        timer = QTimer(window)
        timer.timeout.connect(lambda: report_health(session, reporter))
        timer.start(config.health_interval * 1000)
        report_health(session, reporter)
    return Kiosk(window, executor, card, pcscd)


def report_health(session: Session, reporter: HealthReporter) -> None:
    """Snapshot the counters on the UI thread; send them on a worker (never blocks)."""
    snapshot = session.health()

    def failed(exc: Exception) -> None:  # report() never raises; a last guard
        log.warning("health report not delivered: %s", exc)

    session.services.executor.submit(lambda: reporter.report(snapshot), lambda _: None, failed)


def run(config: KioskConfig, virtual_card: Path | None = None) -> int:
    # Worker threads (ballot encryption, web3) give the GIL back to the UI thread sooner.
    sys.setswitchinterval(0.001)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    kiosk = build(config, virtual_card)
    kiosk.window.showFullScreen()
    try:
        return app.exec()
    finally:
        kiosk.close()
