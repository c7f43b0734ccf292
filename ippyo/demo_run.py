"""The demo's runner: the real services in one :class:`~contextlib.ExitStack`, and a scenario
(:mod:`ippyo.scenario`) played through them.

Services, all on 127.0.0.1 and all stopped by :meth:`DemoRun.close` (processes by pid):

* the chain — the embedded default is eth-tester behind a JSON-RPC endpoint (so every
  component reads it as it reads a node); ``devnet=True`` starts three geth Clique nodes;
* the tally server (SQLite, under cheroot) with the trustees' exchange, the officials'
  dashboard and the observer portal, and its indexer (a thread here; ``ippyo tally index`` in
  production);
* the registrar (key file, test JPKI CA with its CRL, the electoral roll; under cheroot);
* pcscd with vpcd, where each voter's TEST card is inserted in turn.

Who does what, through the component each person really uses:

* the trustees run ``ippyo trustee`` (keygen, announce, deal, receive, finish; decrypt);
* the officials log in to the dashboard over HTTP and deploy (an election plan), open and
  close; they hand the tally to the trustees and publish the record with ``ippyo trustee``;
* the voters queue at kiosks 1 and 2, each a kiosk :class:`~kiosk.core.session.Session` (the
  window's own state machine) reading the card through its own vpcd reader in pcscd; the crash
  happens in kiosk 3, a real ``python -m kiosk.core.headless`` process killed and restarted;
* the observers' check is ``ippyo verify --rpc`` in its own process.

The runner writes nothing for people to read: it reports :class:`Event` values to a listener
(the narration is :mod:`ippyo.narrate`), and returns a :class:`DemoOutcome`.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives.serialization import Encoding
from eth_account import Account
from eth_account.signers.local import LocalAccount

from card_reader.stack import ensure_pcscd, stop_pcscd
from card_reader.testpki import CertificateAuthority, Resident, VoterCard, make_card
from contracts.chain import Chain, Sender
from contracts.client import BallotBox, ContractRevert
from contracts.embedded_rpc import TesterRpcServer, fund_from_faucet
from election import token as tokens
from election.ballot import EncryptedBallot, PlaintextBallot, encrypt_ballot
from election.context import ElectionContext
from election.errors import ElectionError
from election.primitives.blind_rsa import public_key_to_pem
from ippyo.scenario import PIN, PIN_TRIES, WRONG_PIN, Behaviour, Scenario, Voter
from kiosk.core.healthreport import HealthReporter
from kiosk.core.jobs import InlineExecutor
from kiosk.core.outbox import Outbox
from kiosk.core.session import Services, Session, State
from kiosk.testing import ReaderSlot
from registrar.app import create_app as create_registrar
from registrar.app import hash_secret
from registrar.client import RegistrarClient
from registrar.server import make_server as registrar_server
from registrar.signer import KeyFileSigner
from tally_server.app import create_app as create_tally
from tally_server.config import TallyConfig
from tally_server.db import upgrade
from tally_server.election_setup import ElectionSetup, load_setup
from tally_server.indexer import Indexer, counts
from tally_server.officials.accounts import add_official
from tally_server.server import make_server as tally_server
from tally_server.testing import free_port
from tally_server.trustees.exchange import ElectionFiles
from tally_server.trustees.exchange import State as ExchangeState

log = logging.getLogger(__name__)

KIOSK_IDS = ("tsukuba-cityhall-01", "tsukuba-cityhall-02", "tsukuba-cityhall-03")
"""Kiosks 1 and 2 serve the line in this process; kiosk 3 is the headless process that crashes."""
MARKER = ".ippyo-demo"
OFFICIAL = "senkyo-kanri"
"""The demo official's user name (election administration committee)."""


class DemoError(Exception):
    """A stage of the demo failed; the message names the stage and the component's words."""


@dataclass(frozen=True)
class Event:
    """Something that happened, for the narration: ``kind`` names it, ``data`` has the
    figures. No PIN, key or token is ever in an event."""

    kind: str
    data: Mapping[str, Any] = field(default_factory=dict)


Listener = Callable[[Event], None]


@dataclass
class VoterOutcome:
    voter: Voter
    state: str
    """The screen the visit ended on (``receipt``, ``refused``, ``help_desk``, …)."""
    refusal: str | None = None
    tracking_code: str | None = None
    checked_code: str | None = None
    tries_left: list[int] = field(default_factory=list)
    """Tries left as the password screen showed them, in order."""
    second_visit: str | None = None
    """For a double vote: the screen the second visit ended on."""
    seconds: float = 0.0


@dataclass
class DemoOutcome:
    chain: str
    urls: dict[str, str]
    contract: str
    voters: list[VoterOutcome]
    ballots_on_chain: int
    checked_on_chain: int
    excluded: list[tuple[int, str]]
    result: tuple[tuple[int, ...], ...]
    """The result as the tally server's result API shows it after the trustees decrypted."""
    server_checks_ok: bool
    verify_exit: int
    verify_output: str
    record_path: Path
    official_password: str
    forged_token_refusal: str
    stage_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def verified(self) -> bool:
        return self.verify_exit == 0 and self.server_checks_ok


@dataclass
class _Chain:
    urls: list[str]
    name: str
    funded: list[LocalAccount]
    """The admin's and the kiosks' accounts, with ether."""
    confirmations: int
    """The tally server's k (0 on the embedded chain, which has instant finality)."""


@dataclass(frozen=True)
class _Kiosk:
    number: int
    session: Session
    slot: ReaderSlot
    reporter: HealthReporter


class DemoRun:
    """``with DemoRun(scenario, workdir) as run: outcome = run.play()`` — services stay up
    until the ``with`` ends (``--serve`` keeps them)."""

    def __init__(
        self,
        scenario: Scenario,
        workdir: Path,
        *,
        devnet: bool = False,
        listener: Listener | None = None,
        kiosk_window: bool = False,
    ) -> None:
        self.scenario = scenario
        self.workdir = workdir
        self.devnet = devnet
        self.kiosk_window = kiosk_window
        self._listen = listener or (lambda _e: None)
        self._stack = contextlib.ExitStack()
        self._stage_seconds: dict[str, float] = {}
        self._stop_indexer = threading.Event()
        self.official_password = secrets.token_urlsafe(12)
        self.admin_password = secrets.token_urlsafe(12)

    # --- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> DemoRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop_indexer.set()
        self._stack.close()

    def _emit(self, kind: str, /, **data: Any) -> None:
        self._listen(Event(kind, data))

    @contextlib.contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        self._emit("stage", name=name)
        started = time.perf_counter()
        try:
            yield
        except DemoError:
            raise
        except Exception as exc:  # a service that would not start, a node that went away …
            raise DemoError(f"{name}: {type(exc).__name__}: {exc}"[:1000]) from exc
        finally:
            seconds = time.perf_counter() - started
            self._stage_seconds[name] = seconds
            self._emit("stage_done", name=name, seconds=seconds)

    # --- the whole election --------------------------------------------------------------------
    def play(self) -> DemoOutcome:
        s = self.scenario
        self._emit(
            "election",
            name_ja=s.manifest.name_ja,
            name_en=s.manifest.name_en,
            date=s.manifest.election_date.isoformat(),
            voters=len(s.voters),
            chain="devnet" if self.devnet else "embedded",
        )
        with self._stage("services"):
            # The readers first: a second demo at the same time stops here, before it could
            # empty the first one's workdir.
            self._slots = self._start_card_readers()
            self._fresh_workdir()
            chain = self._start_chain()
            tally_url, config, app = self._start_tally_server(chain)
        with self._stage("ceremony"):
            election = self._key_ceremony(tally_url)
        with self._stage("registrar"):
            cards = self._start_registrar()
        with self._stage("deploy"):
            officials = _Officials(tally_url, OFFICIAL, self.official_password)
            kiosks = chain.funded[1:4]
            plan = self._write_plan(election, [k.address for k in kiosks])
            officials.deploy(plan, self.admin_password)
            setup = load_setup(config.require_election_file())
            officials.lifecycle("open", self.admin_password)
            self._emit("deployed", contract=setup.contract_hex, block=setup.first_block)
            self._start_indexer(setup, chain, app)
        box = BallotBox(Chain.connect(chain.urls), setup.contract_hex)
        with self._stage("voting"):
            outcomes, forged = self._voting(setup.context, box, cards, kiosks, chain)
            outcomes += self._window_voter(setup.context, box, chain, kiosks[2])
        with self._stage("close"):
            officials.lifecycle("close", self.admin_password)
            self._wait_indexed(box, app)
        with self._stage("decryption"):
            self._decrypt(tally_url, setup, chain)
        with self._stage("publication"):
            record = self._record_and_publish(setup, chain)
        with self._stage("verification"):
            result, checks_ok, excluded = self._server_result(tally_url)
            code, output = self._verify(chain, setup.contract_hex, record)
        urls = {
            "observer": f"{tally_url}/",
            "result": f"{tally_url}/result",
            "dashboard": f"{tally_url}/officials/",
        }
        receipt = next((o.tracking_code for o in outcomes if o.tracking_code), None)
        if receipt is not None:
            urls["receipt"] = f"{tally_url}/ballots/{receipt}"
        return DemoOutcome(
            chain.name,
            urls,
            setup.contract_hex,
            outcomes,
            box.ballot_count(),
            box.challenged_count(),
            excluded,
            result,
            checks_ok,
            code,
            output,
            record,
            self.official_password,
            forged,
            dict(self._stage_seconds),
        )

    def _fresh_workdir(self) -> None:
        """Empty the workdir — only one an earlier demo made (it holds the marker file), or an
        empty one: ``--workdir ~`` must not delete anybody's files."""
        marker = self.workdir / MARKER
        if self.workdir.exists():
            if not self.workdir.is_dir():
                raise DemoError(f"--workdir {self.workdir} is not a folder")
            if any(self.workdir.iterdir()) and not marker.exists():
                raise DemoError(
                    f"--workdir {self.workdir} is not empty and no demo made it (no {MARKER}); "
                    "choose an empty or new folder"
                )
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True)
        marker.write_text("made by ippyo demo; emptied by the next run\n")

    # --- services ------------------------------------------------------------------------------
    def _start_chain(self) -> _Chain:
        if self.devnet:
            from devnet.testing import running_devnet

            net = self._stack.enter_context(running_devnet(self.workdir / "devnet", 3))
            funded = [Account.from_key(k) for k in net.state.funded_keys]
            self._emit("chain", kind="devnet", urls=net.state.urls, chain_id=net.state.chain_id)
            return _Chain(net.state.urls, "devnet", funded, 2)
        rpc = self._stack.enter_context(TesterRpcServer())
        accounts = [Account.create() for _ in range(4)]  # admin, kiosks 1–3
        chain = Chain.connect([rpc.url])

        fund_from_faucet(chain, [a.address for a in accounts])
        self._emit("chain", kind="embedded", urls=[rpc.url], chain_id=chain.chain_id)
        return _Chain([rpc.url], "embedded", accounts, 0)

    def _start_tally_server(self, chain: _Chain) -> tuple[str, TallyConfig, Any]:
        base = self.workdir / "tally"
        base.mkdir()
        database = f"sqlite:///{base / 'tally.db'}"
        upgrade(database)
        keystore = base / "admin-keystore.json"
        keystore.write_text(json.dumps(Account.encrypt(chain.funded[0].key, self.admin_password)))
        keystore.chmod(0o600)
        self._kiosk_secrets = {k: secrets.token_urlsafe(16) for k in KIOSK_IDS}
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        config = TallyConfig(
            database_url=database,
            election_file=base / "election.json",
            rpc_urls=tuple(chain.urls),
            confirmations=chain.confirmations,
            index_poll_seconds=0.5,
            kiosk_secrets={k: hash_secret(v) for k, v in self._kiosk_secrets.items()},
            trustee_dir=base / "trustees",
            secret_key=secrets.token_urlsafe(32),
            admin_keystore=keystore,
            observer_base_url=url,
        )
        app = create_tally(config)
        self._stack.callback(app.extensions["tally"].engine.dispose)
        add_official(app.extensions["tally"].sessions, OFFICIAL, self.official_password, "admin")
        server = tally_server(app, config, "127.0.0.1", port)
        self._serve(server, "tally server")
        self._emit("tally_server", url=url, database=database)
        self.config, self.app = config, app
        return url, config, app

    def _serve(self, server: Any, name: str) -> None:
        server.prepare()
        thread = threading.Thread(target=server.serve, name=name, daemon=True)
        thread.start()

        def stop() -> None:
            server.stop()
            thread.join(timeout=10)

        self._stack.callback(stop)

    def _start_card_readers(self) -> list[ReaderSlot]:
        """pcscd (unless it runs already) and two of vpcd's readers, one per kiosk."""
        started = ensure_pcscd()
        self._stack.callback(stop_pcscd, started)
        slots = [ReaderSlot(index=1), ReaderSlot(index=0)]
        for slot in slots:
            try:
                slot.acquire(timeout=20)
            except TimeoutError as exc:
                raise DemoError(
                    f"the virtual card reader {slot.reader!r} is in use by another demo or "
                    "test run on this machine; try again when it has finished"
                ) from exc
            self._stack.callback(slot.release)
            self._stack.callback(slot.pull)
        readers = [slot.reader for slot in slots]
        self._emit("card_reader", readers=readers, started=started is not None)
        return slots

    # --- the key ceremony ------------------------------------------------------------------------
    def _key_ceremony(self, tally_url: str) -> ExchangeState:
        s = self.scenario
        folder = self.workdir / "trustees"
        folder.mkdir()
        manifest_path = folder / "manifest.json"
        manifest_path.write_text(json.dumps(s.manifest.to_dict(), ensure_ascii=False), "utf-8")
        self._trustee_keys: dict[int, Path] = {}
        self._trustee_states: dict[int, Path] = {}
        publics = []
        for i in range(1, s.trustees + 1):
            self._trustee_keys[i] = folder / f"trustee-{i}.key"
            self._trustee_states[i] = folder / f"trustee-{i}.state"
            public = _trustee("keygen", "--out", str(self._trustee_keys[i])).strip()
            publics += ["--trustee-key", f"{i}={public}"]
        root = self.config.trustee_dir
        _trustee(
            "setup", "--dir", str(root), "--manifest", str(manifest_path),
            "--quorum", str(s.quorum), *publics,
        )  # fmt: skip
        election = s.manifest.election_id.hex()
        for step in ("announce", "deal", "receive", "finish"):
            for i in range(1, s.trustees + 1):
                extra = ["--election", election, "--index", str(i)] if step == "announce" else []
                _trustee(step, *self._as_trustee(tally_url, i), *extra)
            self._emit("ceremony_step", step=step, trustees=s.trustees)
        state = ElectionFiles(root / election).load()
        if state.joint_public_key is None:
            raise DemoError("ceremony: the exchange has no joint key after every trustee finished")
        self._emit(
            "ceremony_done",
            trustees=s.trustees,
            quorum=s.quorum,
            joint_key=state.joint_public_key.hex(),
        )
        return state

    def _as_trustee(self, tally_url: str, i: int) -> list[str]:
        return [
            "--server", tally_url, "--key", str(self._trustee_keys[i]),
            "--state", str(self._trustee_states[i]),
        ]  # fmt: skip

    # --- the registrar ---------------------------------------------------------------------------
    def _start_registrar(self) -> dict[int, VoterCard]:
        s = self.scenario
        folder = self.workdir / "registrar"
        pki = folder / "pki"
        pki.mkdir(parents=True)
        ca = CertificateAuthority.create()
        ca.save(pki)
        cards = {
            v.number: make_card(ca, Resident(v.name, v.gender, v.born, v.address), sign_pin=PIN)
            for v in s.voters
        }
        revoked = [
            cards[v.number].sign_certificate.serial_number
            for v in s.voters
            if v.behaviour is Behaviour.REVOKED
        ]
        crl = pki / "crl.der"
        crl.write_bytes(ca.crl(revoked).public_bytes(Encoding.DER))
        key = folder / "registrar-key.pem"
        KeyFileSigner.generate(key)
        self._registrar_secrets = {k: secrets.token_urlsafe(16) for k in KIOSK_IDS}
        app = create_registrar(
            {
                "DATABASE_URL": f"sqlite:///{folder / 'registrar.db'}",
                "ELECTION_ID": s.manifest.election_id.hex(),
                "ELECTION_DAY": s.manifest.election_date.isoformat(),
                "MUNICIPALITY": s.municipality,
                "ROLL_REQUIRED": True,
                "CA_CERTS": [str(pki / "ca.pem")],
                "CRLS": [str(crl)],
                "KIOSKS": {k: hash_secret(v) for k, v in self._registrar_secrets.items()},
                "SIGNER": {"type": "keyfile", "path": str(key)},
            }
        )
        roll = io.StringIO()
        writer = csv.writer(roll)
        writer.writerow(["name", "date_of_birth", "gender", "address"])
        for v in s.voters:
            if v.on_roll:
                writer.writerow([v.name, v.born.isoformat(), v.gender, v.address])
        self._registrar_ledger = app.extensions["ippyo_registrar"]["ledger"]
        on_roll = self._registrar_ledger.import_roll(roll.getvalue())
        port = free_port()
        self._serve(registrar_server(app, "127.0.0.1", port), "registrar")
        url = f"http://127.0.0.1:{port}"
        client = RegistrarClient(url, KIOSK_IDS[0], self._registrar_secrets[KIOSK_IDS[0]])
        self._registrar_url = url
        _, self._registrar_key = client.info()  # as the officials fetch it for the plan
        self._emit("registrar", url=url, on_roll=on_roll, revoked=len(revoked), cards=len(cards))
        return cards

    def _write_plan(self, election: ExchangeState, kiosks: list[str]) -> bytes:
        """``ippyo trustee plan``, as the officials run it after the ceremony."""
        public = self.workdir / "registrar" / "registrar-public.pem"
        public.write_bytes(public_key_to_pem(self._registrar_key))
        out = self.workdir / "election-plan.json"
        args = ["plan", "--dir", str(self.config.trustee_dir)]
        args += ["--election", election.election_id.hex(), "--registrar-public", str(public)]
        for kiosk in kiosks:
            args += ["--kiosk", kiosk]
        _trustee(*args, "--out", str(out))
        return out.read_bytes()

    # --- the indexer -----------------------------------------------------------------------------
    def _start_indexer(self, setup: ElectionSetup, chain: _Chain, app: Any) -> None:
        indexer = Indexer(
            setup,
            Chain.connect(chain.urls),
            app.extensions["tally"].sessions,
            confirmations=chain.confirmations,
        )
        indexer.check_contract()
        thread = threading.Thread(
            target=indexer.run,
            kwargs={"poll_seconds": 0.5, "stop": self._stop_indexer.is_set},
            name="indexer",
            daemon=True,
        )
        thread.start()

        def stop() -> None:
            self._stop_indexer.set()
            thread.join(timeout=30)

        self._stack.callback(stop)

    def _wait_indexed(self, box: BallotBox, app: Any, timeout: float = 120.0) -> None:
        """Until the index holds every ballot the contract counted, up to the closing block."""
        want = box.ballot_count()
        head = box.chain.call(lambda w3: int(w3.eth.block_number))
        deadline = time.monotonic() + timeout
        while True:
            held = counts(app.extensions["tally"].sessions)
            if held["ballots"] >= want and (held["indexed_to_block"] or 0) >= head:
                self._emit("indexed", **{k: v for k, v in held.items() if k != "indexed_to_block"})
                return
            if time.monotonic() > deadline:
                raise DemoError(f"close: the indexer holds {held}, the contract {want} ballots")
            time.sleep(0.25)

    # --- voting ----------------------------------------------------------------------------------
    def _kiosk(
        self,
        number: int,
        slot: ReaderSlot,
        context: ElectionContext,
        box: BallotBox,
        account: LocalAccount,
        chain_urls: list[str],
    ) -> _Kiosk:
        """Kiosk ``number`` in the city hall: its reader, its chain account, its outbox, its
        registrar credentials and its health reports to the tally server."""
        kiosk_id = KIOSK_IDS[number - 1]
        chain = Chain.connect(chain_urls)
        services = Services(
            kiosk_id=kiosk_id,
            context=context,
            open_card=slot.open,
            registrar=RegistrarClient(
                self._registrar_url, kiosk_id, self._registrar_secrets[kiosk_id]
            ),
            box=BallotBox(chain, box.address),
            sender=Sender(chain, account),
            outbox=Outbox(self.workdir / f"kiosk-{number}" / "outbox"),
            executor=InlineExecutor(),
        )
        session = Session(services)
        reporter = HealthReporter(
            session.health,
            self.config.observer_base_url,
            kiosk_id,
            self._kiosk_secrets[kiosk_id],
            interval=5.0,
        )
        reporter.start()
        self._stack.callback(reporter.stop)
        return _Kiosk(number, session, slot, reporter)

    def _voting(
        self,
        context: ElectionContext,
        box: BallotBox,
        cards: dict[int, VoterCard],
        kiosks: list[LocalAccount],
        chain: _Chain,
    ) -> tuple[list[VoterOutcome], str]:
        """The line at the two kiosks: voter 1 to kiosk 1, voter 2 to kiosk 2, … (a card goes
        into one reader while the other's last card is still being noticed gone)."""
        hall = [
            self._kiosk(n, slot, context, box, account, chain.urls)
            for n, (slot, account) in enumerate(zip(self._slots, kiosks[:2], strict=True), 1)
        ]
        outcomes: list[VoterOutcome] = []
        for turn, voter in enumerate(self.scenario.voters):
            kiosk = hall[turn % len(hall)]
            card = cards[voter.number]
            started = time.perf_counter()
            if voter.behaviour is Behaviour.KIOSK_CRASH:
                outcome = self._crash_at_kiosk_3(voter, card, context, box, chain, kiosks[2])
            elif voter.behaviour is Behaviour.CORRUPT_PROOF:
                broken = Session(replace(kiosk.session.services, encrypt=_corrupting_encrypt))
                outcome = self._visit(replace(kiosk, session=broken), voter, card)
            else:
                outcome = self._visit(kiosk, voter, card)
            outcome.seconds = time.perf_counter() - started
            outcomes.append(outcome)
            self._emit("voter", outcome=outcome, kiosk=kiosk.number)
        for turn, outcome in enumerate(outcomes):  # the double voters come back later
            if outcome.voter.behaviour is Behaviour.DOUBLE_VOTE:
                kiosk = hall[(turn + 1) % len(hall)]  # at the other kiosk this time
                again = self._visit(kiosk, outcome.voter, cards[outcome.voter.number])
                outcome.second_visit = again.state
                self._emit("second_visit", outcome=outcome, kiosk=kiosk.number)
        forged = self._forged_token(hall[0].session.services)
        for kiosk in hall:
            kiosk.reporter.report_once()
        return outcomes, forged

    def _visit(self, kiosk: _Kiosk, voter: Voter, card: VoterCard) -> VoterOutcome:
        """One person at a kiosk: card in, password, ballot, cast (or what the behaviour
        says); the screen the visit ends on is the outcome. The card is pulled at the end."""
        session, slot = kiosk.session, kiosk.slot
        outcome = VoterOutcome(voter, "")
        try:
            session.begin()
            slot.insert(card)
            session.card_inserted()
            _expect(session, voter, State.PIN, State.HELP_DESK)
            if session.state is State.PIN and session.view.tries_left is not None:
                outcome.tries_left.append(session.view.tries_left)
            wrong = {Behaviour.MISTYPES: 1, Behaviour.LOCKS: PIN_TRIES}.get(voter.behaviour, 0)
            for _ in range(wrong):
                session.enter_pin(WRONG_PIN)
                if session.state is State.PIN and session.view.tries_left is not None:
                    outcome.tries_left.append(session.view.tries_left)
                if session.state is not State.PIN:
                    break
            if session.state is State.PIN:
                session.enter_pin(PIN)
            if session.state is State.BALLOT and voter.checked_choices is not None:
                session.choose(voter.checked_choices)
                session.confirm()
                _expect(session, voter, State.CAST_OR_CHECK)
                session.check()
                _expect(session, voter, State.CHECKED)
                assert session.view.checked is not None
                outcome.checked_code = session.view.checked.tracking_code
                session.vote_again()
            if session.state is State.BALLOT:
                session.choose(voter.choices)
                session.confirm()
                _expect(session, voter, State.CAST_OR_CHECK)
                session.cast()
            view = session.view
            outcome.state = view.state.value
            if view.refusal is not None:
                outcome.refusal = view.refusal.code
            if view.receipt is not None:
                outcome.tracking_code = view.receipt.tracking_code
            if view.state is State.OUT_OF_SERVICE:
                raise DemoError(f"voter {voter.number}: the kiosk is out of service: {view.error}")
            session.finish()
        finally:
            slot.pull()
            session.card_removed()
        return outcome

    def _forged_token(self, services: Services) -> str:
        """A rogue sender casts with a token the registrar never signed: the contract refuses
        it by name before the ballot is stored."""
        ctx = services.context
        forged = tokens.derive_token(ctx.election_id, secrets.token_bytes(256))
        plain = PlaintextBallot.from_choices(ctx.manifest, {"mayor": ["ito"], "projects": []})
        ballot = encrypt_ballot(ctx, plain, secrets.token_bytes(32))
        binding = tokens.sign_binding(
            forged, ctx.chain_id, ctx.contract_address, ballot.ballot_hash
        )
        try:
            services.box.cast_ballot(
                services.sender,
                forged.address,
                secrets.token_bytes(256),
                ballot.to_bytes(),
                binding,
            )
        except ContractRevert as exc:
            services.sender.reset_nonce()
            self._emit("forged_token", name=exc.name, ja=exc.message_ja, en=exc.message_en)
            return exc.name
        raise DemoError("the contract accepted a ballot with a forged token")

    # --- kiosk 3: a real process, killed mid-vote ------------------------------------------------
    def _crash_at_kiosk_3(
        self,
        voter: Voter,
        card: VoterCard,
        context: ElectionContext,
        box: BallotBox,
        chain: _Chain,
        account: LocalAccount,
    ) -> VoterOutcome:
        """Kiosk 3 is a real process (``python -m kiosk.core.headless``) on kiosk 1's reader.
        It is killed right after the signed ballot is fsynced to its outbox, before it is sent;
        restarted, it sends what its outbox holds, and the voter, trying again, is told they
        have voted."""
        folder = self.workdir / "kiosk-3"
        slot = self._slots[0]
        config = self._headless_config(folder, context, box, chain, account, slot.reader)
        args = [sys.executable, "-m", "kiosk.core.headless", "--config", str(config)]
        args += ["--pin", PIN]
        for contest, options in voter.choices.items():
            args += ["--choose", f"{contest}={','.join(options)}"]
        env = {**os.environ, "IPPYO_KIOSK_TEST_KILL": "after_outbox_write"}
        slot.insert(card)
        try:
            first = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
            if first.returncode != -signal.SIGKILL:
                raise DemoError(
                    f"kiosk 3 was to be killed mid-vote (exit {first.returncode}): "
                    f"{first.stdout[-500:]}{first.stderr[-500:]}"
                )
            queued = Outbox(folder / "outbox").depth
            self._emit("kiosk_killed", voter=voter.number, outbox=queued)
            env.pop("IPPYO_KIOSK_TEST_KILL")
            slot.pull()
            slot.insert(card)  # the voter tries again at the restarted kiosk
            second = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
        finally:
            slot.pull()
        events = [json.loads(line) for line in second.stdout.splitlines() if line.startswith("{")]
        done = next((e for e in events if e["event"] == "done"), None)
        settled = [o for e in events if e["event"] == "outbox" for o in e["outcomes"]]
        if done is None:
            raise DemoError(f"kiosk 3 did not finish: {second.stdout[-500:]}{second.stderr[-500:]}")
        self._emit("kiosk_restarted", voter=voter.number, settled=settled, state=done["state"])
        return VoterOutcome(voter, str(done["state"]), refusal=done.get("refusal"))

    def _headless_config(
        self,
        folder: Path,
        context: ElectionContext,
        box: BallotBox,
        chain: _Chain,
        account: LocalAccount,
        reader: str,
    ) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        kiosk_id = KIOSK_IDS[2]
        (folder / "sender.key").write_text(account.key.hex())
        (folder / "registrar.secret").write_text(self._registrar_secrets[kiosk_id])
        (folder / "tally.secret").write_text(self._kiosk_secrets[kiosk_id])
        (folder / "manifest.json").write_text(
            json.dumps(context.manifest.to_dict(), ensure_ascii=False), "utf-8"
        )
        for name in ("sender.key", "registrar.secret", "tally.secret"):
            (folder / name).chmod(0o600)
        config = {
            "kiosk_id": kiosk_id,
            "registrar_url": self._registrar_url,
            "registrar_secret_file": "registrar.secret",
            "rpc": chain.urls,
            "contract": box.address,
            "sender_key_file": "sender.key",
            "manifest": "manifest.json",
            "trustees": context.trustees,
            "quorum": context.quorum,
            "joint_public_key": context.joint_public_key.hex(),
            "reader": reader,
            "outbox": "outbox",
            "tally_url": self.config.observer_base_url,
            "tally_secret_file": "tally.secret",
        }
        path = folder / "kiosk.json"
        path.write_text(json.dumps(config, indent=1))
        return path

    # --- the real window for one more voter (--kiosk) -------------------------------------------
    def _window_voter(
        self,
        context: ElectionContext,
        box: BallotBox,
        chain: _Chain,
        account: LocalAccount,
    ) -> list[VoterOutcome]:
        """With ``--kiosk``: the real window (``ippyo kiosk run``) as kiosk 3, for one more
        voter — the person at the keyboard — whose TEST card is in vpcd's first reader."""
        if not self.kiosk_window:
            return []
        folder = self.workdir / "kiosk-window"
        folder.mkdir(parents=True)
        kiosk_id = KIOSK_IDS[2]
        (folder / "manifest.json").write_text(
            json.dumps(context.manifest.to_dict(), ensure_ascii=False), "utf-8"
        )
        (folder / "registrar.secret").write_text(self._registrar_secrets[kiosk_id])
        (folder / "kiosk-key.hex").write_text(account.key.hex())
        (folder / "tally.secret").write_text(self._kiosk_secrets[kiosk_id])
        rpc = ", ".join(json.dumps(u) for u in chain.urls)
        tally = self.config.observer_base_url
        (folder / "kiosk.toml").write_text(
            f'kiosk_id = "{kiosk_id}"\nlanguage = "ja"\nobserver_base_url = "{tally}"\n'
            'confirmations = 1\noutbox = "outbox"\n\n'
            f'[registrar]\nurl = "{self._registrar_url}"\nsecret_file = "registrar.secret"\n\n'
            f'[chain]\nrpc = [{rpc}]\ncontract = "{box.address}"\nkey_file = "kiosk-key.hex"\n\n'
            f'[election]\nmanifest = "manifest.json"\ntrustees = {context.trustees}\n'
            f"quorum = {context.quorum}\n"
            f'joint_public_key = "{context.joint_public_key.hex()}"\n\n'
            '[receipt]\nprinter = "pdf"\npdf_dir = "receipts"\n\n'
            f'[health]\ntally_url = "{tally}"\nsecret_file = "tally.secret"\n',
            "utf-8",
        )
        resident = Resident("窓口 太郎", "male", context.manifest.election_date.replace(year=1970),
                            "茨城県つくば市研究学園一丁目1番地1")  # fmt: skip
        self._add_to_roll(resident)
        image = folder / "card.json"
        ca = CertificateAuthority.load(self.workdir / "registrar" / "pki")
        image.write_text(json.dumps(make_card(ca, resident, sign_pin=PIN).to_image()), "utf-8")
        self._emit("window", config=str(folder / "kiosk.toml"), pin=PIN)
        command = [sys.executable, "-m", "ippyo", "kiosk", "run", "--config"]
        command += [str(folder / "kiosk.toml"), "--virtual-card", str(image)]
        finished = subprocess.run(command, check=False)
        self._emit("window_closed", code=finished.returncode)
        return []

    def _add_to_roll(self, resident: Resident) -> None:
        roll = "name,date_of_birth,gender,address\n"
        roll += f"{resident.name},{resident.date_of_birth.isoformat()},{resident.gender},"
        roll += f"{resident.address}\n"
        self._registrar_ledger.import_roll(roll)

    # --- after the polls close -------------------------------------------------------------------
    def _decrypt(self, tally_url: str, setup: ElectionSetup, chain: _Chain) -> None:
        s = self.scenario
        election = s.manifest.election_id.hex()
        on_chain = ["--contract", setup.contract_hex]
        for url in chain.urls:
            on_chain += ["--rpc", url]
        root = str(self.config.trustee_dir)
        out = _trustee("tally", "--dir", root, "--election", election, *on_chain,
                       "--from-block", str(setup.first_block))  # fmt: skip
        self._emit("tally_handed_over", text=out.strip())
        for i in range(1, s.trustees + 1):
            if i in s.absent_trustees:
                self._emit("trustee_absent", index=i)
                continue
            _trustee("decrypt", *self._as_trustee(tally_url, i), *on_chain)
            self._emit("trustee_decrypted", index=i)

    def _record_and_publish(self, setup: ElectionSetup, chain: _Chain) -> Path:
        out = self.workdir / "election-record.json"
        args = ["record", "--dir", str(self.config.trustee_dir)]
        args += ["--election", self.scenario.manifest.election_id.hex()]
        args += ["--contract", setup.contract_hex, "--from-block", str(setup.first_block)]
        for url in chain.urls:
            args += ["--rpc", url]
        args += ["--out", str(out), "--publish-with", str(self.config.admin_keystore)]
        with _environment("IPPYO_ADMIN_PASSWORD", self.admin_password):
            text = _trustee(*args)
        published = re.search(r"transcriptHash ([0-9a-f]{64})", text)
        if published is None:
            raise DemoError(f"publication: no transcript hash in {text!r}")
        if published.group(1) != hashlib.sha256(out.read_bytes()).hexdigest():
            raise DemoError("publication: the published hash is not the record file's")
        self._emit("published", record=str(out), size=out.stat().st_size, sha=published.group(1))
        return out

    def _server_result(
        self, tally_url: str, timeout: float = 60.0
    ) -> tuple[tuple[tuple[int, ...], ...], bool, list[tuple[int, str]]]:
        """What an observer sees: the tally server's result (decrypted, every check)."""
        deadline = time.monotonic() + timeout
        while True:
            body = requests.get(f"{tally_url}/api/v1/result", timeout=30).json()
            if body.get("decrypted"):
                break
            if time.monotonic() > deadline:
                raise DemoError(f"the tally server shows no decrypted result: {body}")
            time.sleep(1.0)
        result = tuple(tuple(o["count"] for o in c["options"]) for c in body["result"])
        checks_ok = bool(body["checks"]) and all(c["status"] == "ok" for c in body["checks"])
        excluded = requests.get(f"{tally_url}/api/v1/excluded", timeout=30).json()
        rows = [(int(e["seq"]), str(e["reason"]["code"])) for e in excluded["items"]]
        self._emit("server_result", checks_ok=checks_ok, checks=body["checks"])
        return result, checks_ok, rows

    def _verify(self, chain: _Chain, contract: str, record: Path) -> tuple[int, str]:
        """The observers' own check, in its own process: ``ippyo verify --rpc``."""
        args = [sys.executable, "-m", "ippyo", "verify", "--contract", contract]
        for url in chain.urls:
            args += ["--rpc", url]
        args += ["--record", str(record), "--workers", "1"]
        done = subprocess.run(args, capture_output=True, text=True, timeout=600)
        self._emit("verified", code=done.returncode, output=done.stdout)
        return done.returncode, done.stdout + done.stderr


class _Officials:
    """An official at the dashboard, over HTTP: log in, then forms with their CSRF token."""

    def __init__(self, base: str, username: str, password: str) -> None:
        self.base = base + "/officials"
        self.http = requests.Session()
        page = self.http.get(f"{self.base}/login", timeout=30)
        answer = self.http.post(
            f"{self.base}/login",
            data={"csrf_token": _csrf(page.text), "username": username, "password": password},
            timeout=30,
        )
        if answer.status_code != 200 or "/login" in answer.url:
            raise DemoError(f"dashboard: the login was refused (HTTP {answer.status_code})")

    def _post(self, path: str, what: str, **kwargs: Any) -> None:
        token = _csrf(self.http.get(f"{self.base}/", timeout=30).text)
        data = {"csrf_token": token, **kwargs.pop("data", {})}
        answer = self.http.post(f"{self.base}{path}", data=data, timeout=120, **kwargs)
        if answer.status_code != 200:
            code = re.search(r"<code>([a-z_]+)</code>", answer.text)
            raise DemoError(
                f"dashboard: {what} refused (HTTP {answer.status_code}"
                f"{', ' + code.group(1) if code else ''})"
            )

    def deploy(self, plan: bytes, password: str) -> None:
        files = {"plan": ("election-plan.json", plan, "application/json")}
        self._post("/election/deploy", "deploy", data={"password": password}, files=files)

    def lifecycle(self, action: str, password: str) -> None:
        self._post(f"/election/{action}", action, data={"password": password})


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if found is None:
        raise DemoError("dashboard: the page has no CSRF token")
    return found.group(1)


def _expect(session: Session, voter: Voter, *states: State) -> None:
    if session.state not in states:
        view = session.view
        detail = view.error or (view.refusal.code if view.refusal else "")
        raise DemoError(
            f"voter {voter.number} ({voter.behaviour.value}): the kiosk shows "
            f"{view.state.value} {detail}, not {' or '.join(s.value for s in states)}"
        )


def _corrupting_encrypt(
    context: ElectionContext, plain: PlaintextBallot, nonce: bytes
) -> EncryptedBallot:
    """The broken kiosk: encrypts correctly, then flips one bit of the first proof. The
    ballot still decodes (the contract stores it); its proof no longer verifies."""
    good = encrypt_ballot(context, plain, nonce).to_bytes()
    manifest = context.manifest
    for offset in range(36 + 66 + 5, len(good)):
        raw = bytearray(good)
        raw[offset] ^= 1
        try:
            return EncryptedBallot.from_bytes(bytes(raw), manifest)
        except ElectionError:
            continue
    raise DemoError("the broken kiosk could not corrupt a proof")


def _trustee(*args: str) -> str:
    """``ippyo trustee ARGS`` as a trustee or official runs it; its output, or DemoError."""
    from ippyo.trustee import trustee

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            trustee.main(list(args), prog_name="ippyo trustee", standalone_mode=False)
        except SystemExit as exc:
            if exc.code not in (0, None):
                raise DemoError(
                    f"ippyo trustee {args[0]}: exit {exc.code}: {err.getvalue().strip()}"
                ) from None
    return out.getvalue()


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old
