"""Helpers for the dashboard's tests: an election deployed but not yet opened (the dashboard
opens it, signing with the admin's encrypted keystore), a migrated server with officials, and
the live server the browser tests talk to."""

from __future__ import annotations

import hashlib
import json
import random
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cheroot import wsgi
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.types import Wei

from contracts.chain import Chain, Sender
from contracts.client import BallotBox, predict_address
from election.context import ElectionContext
from election.keyceremony import run_ceremony
from election.primitives import blind_rsa
from tally_server.app import create_app
from tally_server.config import TallyConfig
from tally_server.db import upgrade
from tally_server.election_setup import ElectionSetup
from tally_server.officials import accounts
from tally_server.officials.deploy import plan_to_json
from tally_server.server import make_server
from tally_server.testing import ElectionKit, demo_manifest

SECRET = "dashboard test secret key, 40 chars long"
KEYSTORE_PASSWORD = "keystore password for tests"
KIOSK_SECRETS = {"kiosk-01": "kiosk one secret", "kiosk-02": "kiosk two secret"}
OFFICIALS = {
    "vera": ("viewer", "viewer password 1"),
    "otto": ("operator", "operator password 2"),
    "ada": ("admin", "admin password 3"),
}


class UnopenedKit(ElectionKit):
    """:class:`ElectionKit`'s election with the admin key given and the BallotBox left in its
    set-up phase, so the dashboard can open it."""

    def __init__(
        self, chain: Chain, registrar: blind_rsa.RSAPrivateKey, admin: LocalAccount
    ) -> None:  # the parent's steps, without ``open``
        self.chain = chain
        self.registrar = registrar
        self.manifest = demo_manifest()
        self.rng = random.Random(2026)
        people, announcements, shares, complaints, ceremony = run_ceremony(
            self.manifest.election_id, 3, 2
        )
        self.trustees = people
        self.admin = Sender(chain, admin)
        self.kiosk = Sender(chain, Account.create())
        self._fund([self.admin.address, self.kiosk.address])
        nonce = chain.call(
            lambda w3: w3.eth.get_transaction_count(to_checksum_address(self.admin.address))
        )
        self.context = ElectionContext(
            self.manifest,
            3,
            2,
            ceremony.joint_public_key,
            registrar.public_key,
            chain.chain_id,
            predict_address(self.admin.address, nonce),
            False,
        )
        self.box = BallotBox.deploy(
            self.admin,
            election_id=self.context.election_id,
            base_hash=self.context.base_hash,
            registrar_modulus=registrar.public_key.modulus_bytes(),
            registrar_exponent=registrar.public_key.exponent_bytes(),
            revote_allowed=False,
            kiosks=[self.kiosk.address],
        )
        self.first_block = self.block_number()
        self.setup = ElectionSetup(
            self.context, self.first_block, tuple(announcements), tuple(shares), tuple(complaints)
        )


def write_keystore(path: Path, account: LocalAccount, password: str = KEYSTORE_PASSWORD) -> Path:
    # scrypt, lighter than eth-account's default so the tests stay quick
    keystore = Account.encrypt(account.key, password, kdf="scrypt", iterations=2**14)
    path.write_text(json.dumps(keystore))
    return path


@dataclass
class Election:
    kit: UnopenedKit
    config: TallyConfig


def election_config(
    tmp: Path, rpc_url: str, registrar: blind_rsa.RSAPrivateKey, database_url: str
) -> Election:
    """A deployed, unopened election; a migrated database with the three officials; the
    server's config (election file, node, keystore, two kiosks)."""
    admin: LocalAccount = Account.create()
    kit = UnopenedKit(Chain.connect([rpc_url]), registrar, admin)
    upgrade(database_url)
    config = TallyConfig(
        database_url=database_url,
        election_file=kit.write_setup(tmp / "election-setup.json"),
        rpc_urls=(rpc_url,),
        confirmations=0,
        admin_keystore=write_keystore(tmp / "admin-keystore.json", admin),
        secret_key=SECRET,
        kiosk_secrets={
            kiosk: hashlib.sha256(secret.encode()).hexdigest()
            for kiosk, secret in KIOSK_SECRETS.items()
        },
        trustee_dir=tmp / "trustees",
    )
    app = create_app(config)
    for name, (role, password) in OFFICIALS.items():
        accounts.add_official(app.extensions["tally"].sessions, name, password, role)
    app.extensions["tally"].engine.dispose()
    return Election(kit, config)


@contextmanager
def live_server(config: TallyConfig) -> Iterator[str]:
    """The tally app under cheroot on 127.0.0.1 (a free port), stopped afterwards."""
    app = create_app(config)
    server: wsgi.Server = make_server(app, config, "127.0.0.1", 0)
    server.prepare()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.bind_addr[1]}"
    finally:
        server.stop()
        thread.join(timeout=10)
        app.extensions["tally"].engine.dispose()


def report_health(base: str, kiosk: str, **counters: int | str) -> None:
    """A kiosk's health report, sent as the kiosk sends it (/work/iface.md)."""
    body = {
        "reader": "card",
        "outbox_depth": 0,
        "wrong_pin": 0,
        "locked": 0,
        "forgotten_pin": 0,
        "refused": 0,
        "ballots_cast": 0,
        "ballots_checked": 0,
        **counters,
    }
    request = urllib.request.Request(
        f"{base}/api/v1/kiosks/{kiosk}/health",
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {KIOSK_SECRETS[kiosk]}",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 204


def fund(chain: Chain, addresses: list[str]) -> None:
    """Ether for accounts from the tester's unlocked account (served over JSON-RPC)."""

    def go(w3: Web3) -> None:
        for address in addresses:
            tx = w3.eth.send_transaction(
                {
                    "from": w3.eth.accounts[0],
                    "to": to_checksum_address(address),
                    "value": Wei(10**21),
                }
            )
            w3.eth.wait_for_transaction_receipt(tx)

    chain.call(go)


def make_plan(registrar: blind_rsa.RSAPrivateKey, kiosks: list[str], quorum: int = 2) -> bytes:
    """An election plan for the demo manifest: a real 3-trustee ceremony, the registrar's key."""
    manifest = demo_manifest()
    _, announcements, shares, complaints, ceremony = run_ceremony(manifest.election_id, 3, quorum)
    # A setup with a placeholder chain: only its chain-free fields go into the plan.
    context = ElectionContext(
        manifest, 3, quorum, ceremony.joint_public_key, registrar.public_key, 1, bytes(20), False
    )
    setup = ElectionSetup(context, 0, tuple(announcements), tuple(shares), tuple(complaints))
    return plan_to_json(setup, kiosks)
