"""Live services for the tally server's tests and benchmarks (not a conftest: importable).

* :func:`postgres_server` — a real PostgreSQL on a free loopback port, run as the ``postgres``
  user (it refuses root), stopped by pid;
* :func:`free_port`.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.types import Wei

from contracts.chain import Chain, Sender
from contracts.client import BallotBox, predict_address

# The embedded chain's JSON-RPC server lives in contracts/ (the demo runs on it); the tests
# import it from here too.
from contracts.embedded_rpc import TesterBackend as TesterBackend
from contracts.embedded_rpc import TesterRpcServer as TesterRpcServer
from contracts.embedded_rpc import _rpc_json as _rpc_json
from contracts.embedded_rpc import fund_from_faucet
from election import token as tokens
from election.ballot import PlaintextBallot, encrypt_ballot, tracking_code
from election.context import ElectionContext
from election.keyceremony import run_ceremony
from election.manifest import Manifest, manifest_from_dict
from election.primitives import blind_rsa
from election.primitives.hashing import sha256
from tally_server.election_setup import ElectionSetup


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yield an SQLAlchemy URL of a fresh PostgreSQL server; stop it (by pid) afterwards."""
    bindirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not bindirs:
        raise RuntimeError("PostgreSQL is not installed: scripts/setup.sh installs it")
    bin_ = bindirs[-1]
    data = Path(tempfile.mkdtemp(prefix="ippyo-tally-pg-"))
    as_postgres = os.geteuid() == 0
    run = ["runuser", "-u", "postgres", "--"] if as_postgres else []
    if as_postgres:
        shutil.chown(data, "postgres", "postgres")
    port = free_port()
    subprocess.run(
        [*run, str(bin_ / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    proc = subprocess.Popen(
        [
            *run,
            str(bin_ / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={data}",
            "-c",
            "fsync=off",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while (
            subprocess.run(
                [str(bin_ / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                capture_output=True,
            ).returncode
            != 0
        ):
            if proc.poll() is not None:
                raise RuntimeError("postgres exited at start")
            if time.monotonic() > deadline:
                raise RuntimeError("postgres did not start within 30 s")
            time.sleep(0.2)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)


# --- the embedded chain over HTTP -------------------------------------------------------------
# --- a real election on a chain ---------------------------------------------------------------
def demo_manifest() -> Manifest:
    """The demo's manifest: a 1-of-5 mayor contest and a choose-up-to-3-of-13 projects contest."""
    text = resources.files("ippyo").joinpath("data/demo-manifest.json").read_text("utf-8")
    return manifest_from_dict(json.loads(text))


@dataclass
class CastInfo:
    seq: int
    ballot_hash: bytes
    tracking_code: str
    token: bytes
    block_number: int
    choices: PlaintextBallot | None
    """What the voter chose; ``None`` for a ballot that does not count."""


class ElectionKit:
    """An election on a chain, as the kiosks and the registrar would make it: the key ceremony,
    a registrar key, the BallotBox deployed and opened, real tokens and encrypted ballots."""

    def __init__(
        self,
        chain: Chain,
        registrar: blind_rsa.RSAPrivateKey,
        *,
        trustees: int = 3,
        quorum: int = 2,
        revote: bool = False,
        manifest: Manifest | None = None,
        rng: random.Random | None = None,
        admin: Sender | None = None,
        kiosk: Sender | None = None,
    ) -> None:
        """``admin`` and ``kiosk``: funded accounts (real nodes); by default new accounts
        funded from the embedded chain's unlocked faucet."""
        self.chain = chain
        self.registrar = registrar
        self.manifest = manifest or demo_manifest()
        self.rng = rng or random.Random(2018)
        people, announcements, shares, complaints, ceremony = run_ceremony(
            self.manifest.election_id, trustees, quorum
        )
        self.trustees = people
        if admin is None or kiosk is None:
            admin, kiosk = Sender(chain, Account.create()), Sender(chain, Account.create())
            self._fund([admin.address, kiosk.address])
        self.admin, self.kiosk = admin, kiosk
        nonce = chain.call(
            lambda w3: w3.eth.get_transaction_count(to_checksum_address(self.admin.address))
        )
        self.context = ElectionContext(
            self.manifest,
            trustees,
            quorum,
            ceremony.joint_public_key,
            registrar.public_key,
            chain.chain_id,
            predict_address(self.admin.address, nonce),
            revote,
        )
        self.box = BallotBox.deploy(
            self.admin,
            election_id=self.context.election_id,
            base_hash=self.context.base_hash,
            registrar_modulus=registrar.public_key.modulus_bytes(),
            registrar_exponent=registrar.public_key.exponent_bytes(),
            revote_allowed=revote,
            kiosks=[self.kiosk.address],
        )
        self.first_block = self.block_number()
        self.setup = ElectionSetup(
            self.context,
            self.first_block,
            tuple(announcements),
            tuple(shares),
            tuple(complaints),
        )
        self.box.open(self.admin)

    def _fund(self, addresses: list[str]) -> None:
        fund_from_faucet(self.chain, addresses)

    def block_number(self) -> int:
        return self.chain.call(lambda w3: int(w3.eth.block_number))

    def write_setup(self, path: Path) -> Path:
        path.write_bytes(self.setup.to_json())
        return path

    def token(self) -> tuple[tokens.TokenKey, bytes]:
        pk = self.registrar.public_key
        eid = self.context.election_id
        token, blinding = tokens.blind_token(pk, eid, self.rng.randbytes(256))
        blind_sig = blind_rsa.blind_sign(self.registrar, blinding.blinded_msg)
        return token, tokens.finalize_token(pk, eid, token, blind_sig, blinding)

    def random_choices(self) -> PlaintextBallot:
        """A random valid choice in every contest (between its minimum and maximum)."""
        choices = {
            c.id: self.rng.sample(
                [o.id for o in c.options], self.rng.randint(c.min_selections, c.max_selections)
            )
            for c in self.manifest.contests
        }
        return PlaintextBallot.from_choices(self.manifest, choices)

    def encrypt(self, plain: PlaintextBallot | None = None) -> tuple[bytes, PlaintextBallot]:
        plain = plain or self.random_choices()
        ballot = encrypt_ballot(self.context, plain, self.rng.randbytes(32))
        return ballot.to_bytes(), plain

    def cast(
        self,
        plain: PlaintextBallot | None = None,
        *,
        corrupt: bool = False,
        token: tuple[tokens.TokenKey, bytes] | None = None,
        copy_of: bytes | None = None,
    ) -> CastInfo:
        """Cast one ballot; ``corrupt`` flips a proof byte after encryption (a broken kiosk:
        the contract accepts it, the tally must exclude it as ``bad_proof``); ``copy_of``
        casts those very ballot bytes (a copy of someone's ballot under another token)."""
        if copy_of is not None:
            data, plain = copy_of, None
        else:
            data, plain = self.encrypt(plain)
        if corrupt:
            raw = bytearray(data)
            raw[36 + 66 + 5] ^= 1
            data = bytes(raw)
        key, signature = token or self.token()
        ballot_hash = sha256(data)
        binding = tokens.sign_binding(
            key, self.context.chain_id, self.context.contract_address, ballot_hash
        )
        receipt = self.box.cast_ballot(self.kiosk, key.address, signature, data, binding)
        return CastInfo(
            receipt.seq,
            ballot_hash,
            tracking_code(ballot_hash),
            key.address,
            receipt.block_number,
            None if corrupt else plain,
        )

    def challenge(self, plain: PlaintextBallot | None = None) -> tuple[str, PlaintextBallot]:
        """A voter checks a ballot: published with its master nonce."""
        plain = plain or self.random_choices()
        master = self.rng.randbytes(32)
        ballot = encrypt_ballot(self.context, plain, master)
        self.box.challenge_ballot(self.kiosk, ballot.to_bytes(), master)
        return ballot.tracking_code, plain

    def mine(self, blocks: int) -> None:
        """New blocks without ballots (eth-tester seals one per transaction)."""

        def go(w3: Web3) -> None:
            faucet = w3.eth.accounts[0]
            for _ in range(blocks):
                tx = w3.eth.send_transaction({"from": faucet, "to": faucet, "value": Wei(1)})
                w3.eth.wait_for_transaction_receipt(tx)

        self.chain.call(go)


# --- the app on a real server -------------------------------------------------------------------
@contextmanager
def live_server(app: Any, config: Any) -> Iterator[str]:
    """The app under cheroot (as ``ippyo tally serve`` runs it) on a free loopback port."""
    from tally_server.server import make_server

    server = make_server(app, config, "127.0.0.1", free_port())
    server.prepare()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.bind_addr[1]}"
    finally:
        server.stop()
        thread.join(timeout=10)
