"""Live-service helpers for the kiosk's tests, the demo and load tests (no conftest imports).

Everything here is real: the registrar service over HTTP on 127.0.0.1, the BallotBox on the
embedded chain (eth-tester), and the virtual My Number card served to pcscd through vpcd.
Only the card *holder* is invented (a test PKI's resident).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import itertools
import logging
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding
from eth_account import Account
from werkzeug.serving import make_server

from card_reader.pcsc import PcscCard, wait_for_reader_state
from card_reader.stack import VIRTUAL_READER
from card_reader.testpki import CertificateAuthority, Resident, VoterCard, make_card
from card_reader.virtual_card import JPKIApplet, VpcdCard
from contracts.chain import Chain, Sender
from contracts.client import BallotBox, predict_address
from election.context import ElectionContext
from election.keyceremony import run_ceremony
from election.manifest import Manifest, manifest_from_dict
from election.primitives.blind_rsa import RSAPublicKey
from kiosk.core.jobs import Executor, InlineExecutor
from kiosk.core.outbox import Outbox
from kiosk.core.session import Services, Session
from registrar.app import create_app, hash_secret
from registrar.client import RegistrarClient
from registrar.signer import KeyFileSigner

KIOSK_ID = "kiosk-test-01"
MUNICIPALITY = "茨城県つくば市"

TEST_MANIFEST: dict[str, Any] = {
    "id": "kiosk-test-2026",
    "name": {"ja": "キオスク試験選挙", "en": "Kiosk test election"},
    "date": "2026-12-06",
    "municipality": {"ja": MUNICIPALITY, "en": "Tsukuba, Ibaraki"},
    "contests": [
        {
            "id": "mayor",
            "title": {"ja": "市長選挙（1名を選択）", "en": "Mayor (choose one)"},
            "min": 1,
            "max": 1,
            "options": [
                {"id": "sato", "name": {"ja": "佐藤 花子", "en": "Hanako Sato"}},
                {"id": "suzuki", "name": {"ja": "鈴木 一郎", "en": "Ichiro Suzuki"}},
                {"id": "tanaka", "name": {"ja": "田中 美咲", "en": "Misaki Tanaka"}},
            ],
        }
    ],
}


def test_manifest() -> Manifest:
    return manifest_from_dict(TEST_MANIFEST)


# --- the registrar --------------------------------------------------------------------------------
@dataclass
class LiveRegistrar:
    client: RegistrarClient
    ca: CertificateAuthority
    public_key: RSAPublicKey

    def card(self, resident: Resident | None = None, **options: Any) -> VoterCard:
        return make_card(self.ca, resident or Resident(), **options)


@contextmanager
def registrar_service(
    directory: Path, manifest: Manifest, *, kiosk_id: str = KIOSK_ID
) -> Iterator[LiveRegistrar]:
    """The registrar service (test CA + CRL, key file, SQLite) on a free loopback port."""
    pki = directory / "pki"
    pki.mkdir(parents=True, exist_ok=True)
    ca = CertificateAuthority.create()
    ca.save(pki)
    crl = pki / "crl.der"
    crl.write_bytes(ca.crl([]).public_bytes(Encoding.DER))
    key = directory / "registrar-key.pem"
    KeyFileSigner.generate(key)
    secret = secrets.token_urlsafe(16)
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{directory / 'registrar.db'}",
            "ELECTION_ID": manifest.election_id.hex(),
            "ELECTION_DAY": manifest.election_date.isoformat(),
            "MUNICIPALITY": MUNICIPALITY,
            "CA_CERTS": [str(pki / "ca.pem")],
            "CRLS": [str(crl)],
            "KIOSKS": {kiosk_id: hash_secret(secret)},
            "SIGNER": {"type": "keyfile", "path": str(key)},
        }
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="registrar", daemon=True)
    thread.start()
    try:
        client = RegistrarClient(f"http://127.0.0.1:{server.server_port}", kiosk_id, secret)
        _, public_key = client.info()
        yield LiveRegistrar(client, ca, public_key)
    finally:
        server.shutdown()
        thread.join(timeout=5)


_voters = itertools.count(1)


def new_resident(address: str = "茨城県つくば市研究学園一丁目") -> Resident:
    """A person the registrar has not seen yet (its ledger is per person)."""
    n = next(_voters)
    return Resident(f"投票者 {n:03d}", "female", dt.date(1980, 1, 1 + n % 28), f"{address}{n}番地")


# --- the chain ------------------------------------------------------------------------------------
@dataclass
class EmbeddedElection:
    chain: Chain
    admin: Sender
    kiosk: Sender
    box: BallotBox
    context: ElectionContext


def embedded_election(
    manifest: Manifest,
    registrar_key: RSAPublicKey,
    *,
    revote_allowed: bool = False,
    pinned_key: RSAPublicKey | None = None,
    chain: Chain | None = None,
) -> EmbeddedElection:
    """A BallotBox on the embedded chain, open, with one kiosk. ``pinned_key`` (default: the
    registrar's) is the key the contract pins — another one makes a misconfigured election."""
    chain = chain or Chain.embedded_tester()
    admin, kiosk = Sender(chain, Account.create()), Sender(chain, Account.create())
    chain.fund([admin.address, kiosk.address], 10**21)
    _, _, _, _, ceremony = run_ceremony(manifest.election_id, 3, 2)
    nonce = chain.call(lambda w3: w3.eth.get_transaction_count(admin.account.address))
    pinned = pinned_key or registrar_key
    context = ElectionContext(
        manifest,
        3,
        2,
        ceremony.joint_public_key,
        pinned,
        chain.chain_id,
        predict_address(admin.address, nonce),
        revote_allowed=revote_allowed,
    )
    box = BallotBox.deploy(
        admin,
        election_id=context.election_id,
        base_hash=context.base_hash,
        registrar_modulus=pinned.modulus_bytes(),
        registrar_exponent=pinned.exponent_bytes(),
        revote_allowed=revote_allowed,
        kiosks=[kiosk.address],
    )
    box.open(admin)
    return EmbeddedElection(chain, admin, kiosk, box, context)


# --- the card -------------------------------------------------------------------------------------
VERIFY = 0x20


class RecordingApplet(JPKIApplet):
    """The virtual card's applet, keeping the instruction bytes of every APDU it received, so a
    test can count exactly which commands reached the card."""

    def __init__(self, image: dict[str, Any]) -> None:
        super().__init__(image)
        self.received: list[bytes] = []

    def process(self, command: bytes) -> bytes:
        self.received.append(bytes(command))
        return super().process(command)

    @property
    def pin_verifications(self) -> int:
        """VERIFY commands that carried a PIN (a try), not the tries-left queries."""
        return sum(1 for c in self.received if len(c) > 5 and c[1] == VERIFY)


@dataclass
class ReaderSlot:
    """One of vpcd's virtual readers: insert and pull test cards as a voter would.

    The kiosk's tests use the second slot (``Virtual PCD 00 01``), so they do not fight over
    the first with the card layer's tests when both run at once on one pcscd."""

    index: int = 1
    served: VpcdCard | None = None
    applet: RecordingApplet | None = None
    _removed_at: float = field(default=0.0)

    @property
    def reader(self) -> str:
        return VIRTUAL_READER[:-2] + f"{self.index:02d}"

    def insert(self, card: VoterCard) -> RecordingApplet:
        return self.insert_applet(RecordingApplet(card.to_image()))

    def insert_applet(self, applet: RecordingApplet) -> RecordingApplet:
        """Insert a card whose state is kept (e.g. a card locked earlier)."""
        self.pull()
        # vpcd accepts a new card only after pcscd's next presence poll has seen the last go.
        time.sleep(max(0.0, self._removed_at + 1.0 - time.monotonic()))
        self.applet = applet
        applet.reset()
        self.served = VpcdCard(applet, reader=self.index)
        self.served.insert()
        wait_for_reader_state(self.reader, True, 5.0)
        return applet

    def pull(self) -> None:
        if self.served is None:
            return
        self.served.remove()
        self.served = None
        wait_for_reader_state(self.reader, False, 5.0)
        self._removed_at = time.monotonic()

    def open(self) -> PcscCard:
        return PcscCard.connect(self.reader)


@contextmanager
def exclusive_reader(index: int) -> Iterator[None]:
    """Hold one of vpcd's readers for this process: test runs in other processes (another
    engineer's, the whole suite) wait rather than pull each other's cards. An ``flock`` on a
    file in the temporary directory, released when the block ends or the process dies."""
    path = Path(tempfile.gettempdir()) / f"ippyo-vpcd-reader-{index}.lock"
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- a kiosk --------------------------------------------------------------------------------------
class FakeClock:
    """An injectable clock the test moves by hand (for the inactivity timeout)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_session(
    election: EmbeddedElection,
    registrar: RegistrarClient,
    slot: ReaderSlot,
    outbox_dir: Path,
    *,
    executor: Executor | None = None,
    clock: FakeClock | None = None,
    inactivity_timeout: float = 120.0,
) -> Session:
    return Session(
        Services(
            kiosk_id=registrar.kiosk_id,
            context=election.context,
            open_card=slot.open,
            registrar=registrar,
            box=election.box,
            sender=election.kiosk,
            outbox=Outbox(outbox_dir),
            executor=executor or InlineExecutor(),
            clock=clock or FakeClock(),
            inactivity_timeout=inactivity_timeout,
        )
    )
