"""``ippyo kiosk run`` as built from a kiosk.toml: a one-node geth network over real JSON-RPC,
the registrar service over HTTP, the TEST card image served through pcscd + vpcd as
``--virtual-card`` does — and a whole vote through the window it builds."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from eth_account import Account
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from contracts.chain import Chain, Sender
from contracts.client import BallotBox, predict_address
from devnet.network import Devnet
from devnet.testing import running_devnet
from election.context import ElectionContext
from election.keyceremony import run_ceremony
from election.manifest import Manifest
from kiosk.config import load_config
from kiosk.core.session import State
from kiosk.testing import TEST_MANIFEST, LiveRegistrar, ReaderSlot, new_resident
from kiosk.ui.app import StartupError, build
from tally_server.app import create_app
from tally_server.config import TallyConfig
from tally_server.db import upgrade
from tally_server.models import KioskHealth
from tally_server.testing import live_server
from tests.kiosk.ui.conftest import PIN


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    with running_devnet(tmp_path_factory.mktemp("devnet"), 3) as net:
        yield net


SECRET = "kiosk-secret-01"


@pytest.fixture
def tally_endpoint(
    tmp_path: Path, registrar: LiveRegistrar
) -> Iterator[tuple[str, Callable[[], list[tuple[str, int]]]]]:
    """The real tally server (its health endpoint, under cheroot on 127.0.0.1), and what it
    stored: (kiosk id, ballots cast) per report."""
    database = f"sqlite:///{tmp_path / 'tally.db'}"
    upgrade(database)
    kiosk_id = registrar.client.kiosk_id
    config = TallyConfig(
        database_url=database,
        kiosk_secrets={kiosk_id: hashlib.sha256(SECRET.encode()).hexdigest()},
    )
    app = create_app(config)

    def stored() -> list[tuple[str, int]]:
        with app.extensions["tally"].sessions() as session:
            return [(r.kiosk_id, r.ballots_cast) for r in session.scalars(select(KioskHealth))]

    try:
        with live_server(app, config) as url:
            yield url, stored
    finally:
        app.extensions["tally"].engine.dispose()


def deploy(network: Devnet, manifest: Manifest, registrar: LiveRegistrar) -> tuple[str, str, str]:
    """An open election on the devnet: (contract address, kiosk key hex, joint key hex)."""
    chain = Chain.connect(network.state.urls)
    admin = Sender(chain, Account.from_key(network.state.funded_keys[0]))
    kiosk_key = network.state.funded_keys[1]
    kiosk = Account.from_key(kiosk_key)
    _, _, _, _, ceremony = run_ceremony(manifest.election_id, 3, 2)
    nonce = chain.call(lambda w3: w3.eth.get_transaction_count(admin.account.address))
    context = ElectionContext(
        manifest,
        3,
        2,
        ceremony.joint_public_key,
        registrar.public_key,
        chain.chain_id,
        predict_address(admin.address, nonce),
    )
    box = BallotBox.deploy(
        admin,
        election_id=context.election_id,
        base_hash=context.base_hash,
        registrar_modulus=registrar.public_key.modulus_bytes(),
        registrar_exponent=registrar.public_key.exponent_bytes(),
        revote_allowed=False,
        kiosks=[kiosk.address],
    )
    box.open(admin)
    return box.address, kiosk_key, ceremony.joint_public_key.hex()


def write_config(
    directory: Path,
    network: Devnet,
    registrar: LiveRegistrar,
    contract: str,
    key: str,
    joint: str,
    tally_url: str = "",
) -> Path:
    (directory / "manifest.json").write_text(json.dumps(TEST_MANIFEST), "utf-8")
    (directory / "secret.txt").write_text(registrar.client.secret, "utf-8")
    (directory / "kiosk-key.hex").write_text(key, "utf-8")
    rpc = ", ".join(json.dumps(u) for u in network.state.urls)
    health = ""
    if tally_url:
        (directory / "health-secret.txt").write_text(SECRET, "utf-8")
        health = f'[health]\ntally_url = "{tally_url}"\nsecret_file = "health-secret.txt"\n'
        health += "interval = 5\n"
    path = directory / "kiosk.toml"
    path.write_text(
        f"""kiosk_id = "{registrar.client.kiosk_id}"
language = "ja"
observer_base_url = "http://127.0.0.1:9/observer"
confirmations = 1
outbox = "outbox"

[registrar]
url = "{registrar.client.base_url}"
secret_file = "secret.txt"

[chain]
rpc = [{rpc}]
contract = "{contract}"
key_file = "kiosk-key.hex"

[election]
manifest = "manifest.json"
trustees = 3
quorum = 2
joint_public_key = "{joint}"

[receipt]
printer = "pdf"
pdf_dir = "receipts"
"""
        + health,
        "utf-8",
    )
    return path


def test_kiosk_run_builds_from_its_config_and_a_vote_lands_on_geth(
    qtbot: QtBot,
    network: Devnet,
    manifest: Manifest,
    registrar: LiveRegistrar,
    slot: ReaderSlot,
    tmp_path: Path,
    tally_endpoint: tuple[str, Callable[[], list[tuple[str, int]]]],
) -> None:
    tally_url, stored = tally_endpoint
    contract, key, joint = deploy(network, manifest, registrar)
    config = load_config(
        write_config(tmp_path, network, registrar, contract, key, joint, tally_url)
    )
    image = tmp_path / "card.json"
    image.write_text(json.dumps(registrar.card(new_resident()).to_image()), "utf-8")
    kiosk = build(config, image, virtual_slot=slot.index)
    try:
        window = kiosk.window
        qtbot.addWidget(window)
        window.resize(1280, 800)
        window.show()
        qtbot.waitUntil(lambda: window.state is State.PIN, timeout=30_000)
        pin = window.screens[State.PIN]
        for char in PIN:
            qtbot.mouseClick(pin.keys[char], Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
        qtbot.mouseClick(pin.ok, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
        qtbot.waitUntil(lambda: window.state is State.BALLOT, timeout=30_000)
        ballot = window.screens[State.BALLOT]
        qtbot.mouseClick(ballot.options["mayor"]["tanaka"], Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
        qtbot.mouseClick(ballot.next, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
        qtbot.mouseClick(window.screens[State.REVIEW].confirm, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
        qtbot.waitUntil(lambda: window.state is State.CAST_OR_CHECK, timeout=30_000)
        qtbot.mouseClick(window.screens[State.CAST_OR_CHECK].cast, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
        qtbot.waitUntil(lambda: window.state is State.RECEIPT, timeout=60_000)
        receipt = window.view.receipt
        assert receipt is not None
        box = BallotBox(Chain.connect(network.state.urls), contract)
        assert receipt.ballot_hash in [c.ballot_hash for c in box.cast_ballots()]
        qtbot.mouseClick(window.screens[State.RECEIPT].finish, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
        assert kiosk.card is not None
        kiosk.card.toggle()  # F9: the virtual card is pulled
        qtbot.waitUntil(lambda: window.state is State.WELCOME, timeout=10_000)
        # The officials' dashboard hears about it: counts only, from this kiosk.
        qtbot.waitUntil(lambda: any(cast == 1 for _, cast in stored()), timeout=15_000)
        assert {k for k, _ in stored()} == {config.kiosk_id}
    finally:
        kiosk.close()


def test_kiosk_run_refuses_a_config_for_another_election(
    network: Devnet, manifest: Manifest, registrar: LiveRegistrar, tmp_path: Path
) -> None:
    contract, key, _ = deploy(network, manifest, registrar)
    _, _, _, _, other = run_ceremony(manifest.election_id, 3, 2)  # another key ceremony
    config = load_config(
        write_config(tmp_path, network, registrar, contract, key, other.joint_public_key.hex())
    )
    with pytest.raises(StartupError, match="base hash"):
        build(config)


def test_the_window_fails_over_when_the_node_in_use_is_down_while_sending(
    qtbot: QtBot,
    network: Devnet,
    manifest: Manifest,
    registrar: LiveRegistrar,
    slot: ReaderSlot,
    tmp_path: Path,
) -> None:
    contract, key, joint = deploy(network, manifest, registrar)
    config = load_config(write_config(tmp_path, network, registrar, contract, key, joint))
    image = tmp_path / "card.json"
    image.write_text(json.dumps(registrar.card(new_resident()).to_image()), "utf-8")
    kiosk = build(config, image, virtual_slot=slot.index)
    try:
        window = kiosk.window
        qtbot.addWidget(window)
        window.resize(1280, 800)
        window.show()
        qtbot.waitUntil(lambda: window.state is State.PIN, timeout=30_000)
        pin = window.screens[State.PIN]
        for char in PIN:
            qtbot.mouseClick(pin.keys[char], Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
        qtbot.mouseClick(pin.ok, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
        qtbot.waitUntil(lambda: window.state is State.BALLOT, timeout=30_000)
        ballot = window.screens[State.BALLOT]
        qtbot.mouseClick(ballot.options["mayor"]["tanaka"], Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
        qtbot.mouseClick(ballot.next, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
        qtbot.mouseClick(window.screens[State.REVIEW].confirm, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
        qtbot.waitUntil(lambda: window.state is State.CAST_OR_CHECK, timeout=30_000)
        network.stop_node(0)  # the kiosk's first node: the cast must go through another
        qtbot.mouseClick(window.screens[State.CAST_OR_CHECK].cast, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
        qtbot.waitUntil(lambda: window.state is State.RECEIPT, timeout=90_000)
        receipt = window.view.receipt
        assert receipt is not None
        box = BallotBox(Chain.connect(network.state.urls[1:]), contract)
        hashes = [c.ballot_hash for c in box.cast_ballots()]
        assert hashes.count(receipt.ballot_hash) == 1
    finally:
        kiosk.close()
        network.start_node(0)
