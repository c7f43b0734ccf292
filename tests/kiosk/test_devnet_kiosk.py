"""The kiosk against three real geth nodes over JSON-RPC: a kiosk process killed right after the
outbox write, restarted on the same outbox (the ballot lands once, the voter is told they have
voted), and the node in use going down while a ballot is being sent (failover, still once)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from contracts.chain import Chain, Sender
from contracts.client import BallotBox
from devnet.network import Devnet
from devnet.testing import running_devnet
from election.manifest import Manifest
from kiosk.core.headless import (
    KILL_AFTER_OUTBOX_WRITE,
    KILL_ENV,
    ConfigError,
    HeadlessConfig,
    build_services,
)
from kiosk.core.outbox import Outbox, OutboxEntry
from kiosk.core.session import State
from kiosk.testing import (
    EmbeddedElection,
    LiveRegistrar,
    ReaderSlot,
    make_session,
    new_resident,
    open_election,
    write_headless_config,
)

PIN = "ABC123"


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    with running_devnet(tmp_path_factory.mktemp("devnet"), 3) as net:
        yield net


class HookedChain(Chain):
    """The chain client, with a test hook run once right after the next broadcast."""

    after_broadcast: Callable[[], None] | None = None

    def send_raw(self, raw: bytes) -> bytes:
        tx_hash = super().send_raw(raw)
        hook, self.after_broadcast = self.after_broadcast, None
        if hook is not None:
            hook()
        return tx_hash


class HookedOutbox(Outbox):
    """The outbox, with a test hook run once right after the next durable write."""

    after_write: Callable[[], None] | None = None

    def put(self, entry: OutboxEntry) -> OutboxEntry:
        stored = super().put(entry)
        hook, self.after_write = self.after_write, None
        if hook is not None:
            hook()
        return stored


def election_on(
    network: Devnet, chain: Chain, manifest: Manifest, registrar: LiveRegistrar, kiosk_key: int
) -> EmbeddedElection:
    keys = network.state.funded_keys
    admin = Sender(chain, Account.from_key(keys[0]))
    kiosk = Sender(chain, Account.from_key(keys[kiosk_key]))
    return open_election(chain, admin, kiosk, manifest, registrar.public_key)


def run_kiosk(config: Path, *, kill: bool = False) -> tuple[int, list[dict[str, Any]]]:
    env = dict(os.environ)
    env.pop(KILL_ENV, None)
    if kill:
        env[KILL_ENV] = KILL_AFTER_OUTBOX_WRITE
    command = [sys.executable, "-m", "kiosk.core.headless", "--config", str(config)]
    proc = subprocess.run(
        [*command, "--pin", PIN, "--choose", "mayor=tanaka"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert proc.stderr.strip() == "" or proc.returncode == 0, proc.stderr[-2000:]
    return proc.returncode, events


def test_a_kiosk_killed_after_the_outbox_write_lands_the_ballot_exactly_once(
    network: Devnet,
    manifest: Manifest,
    registrar: LiveRegistrar,
    slot: ReaderSlot,
    tmp_path: Path,
) -> None:
    chain = Chain.connect(network.state.urls, timeout=2.0)
    election = election_on(network, chain, manifest, registrar, kiosk_key=1)
    box = election.box
    outbox_dir = tmp_path / "outbox"
    config = write_headless_config(
        tmp_path / "kiosk",
        election,
        registrar.client,
        network.state.urls,
        reader=slot.reader,
        outbox=outbox_dir,
    )
    slot.insert(registrar.card(new_resident()))

    code, events = run_kiosk(config, kill=True)
    assert code == -signal.SIGKILL, events
    states = [e["state"] for e in events if e["event"] == "view"]
    assert states[-2:] == ["cast_or_check", "sending"]
    assert not any(e["event"] == "done" for e in events)
    [entry] = Outbox(outbox_dir).entries()  # durable: the signed cast survived the kill
    # Never broadcast: a few blocks later no node has it.
    start = chain.call(lambda w3: int(w3.eth.block_number))
    while chain.call(lambda w3: int(w3.eth.block_number)) < start + 3:
        time.sleep(0.3)
    assert box.ballot_of(entry.token) is None
    assert box.ballot_count() == 0

    # The kiosk is restarted on the same outbox; the voter comes back with the same card.
    code, events = run_kiosk(config)
    assert code == 0, events
    outbox_events = [e for e in events if e["event"] == "outbox"]
    assert outbox_events[0]["outcomes"] == ["sent"]  # re-broadcast before any voter
    states = [e["state"] for e in events if e["event"] == "view"]
    assert "ballot" not in states  # no second ballot is ever offered
    [done] = [e for e in events if e["event"] == "done"]
    assert done["state"] == "already_voted", events
    assert states[-1] == "remove_card"
    assert done["outbox_depth"] == 0  # confirmed and removed
    assert Outbox(outbox_dir).depth == 0
    network.wait_in_sync(timeout=60)
    for url in network.state.urls:  # every node holds exactly this one ballot
        on_node = BallotBox(Chain.connect([url]), box.address)
        cast = on_node.cast_ballots()
        assert [(c.token, c.ballot_hash) for c in cast] == [(entry.token, entry.ballot_hash)]


@pytest.mark.parametrize("moment", ["after_outbox_write", "after_broadcast"])
def test_the_node_in_use_goes_down_while_sending(
    moment: str,
    network: Devnet,
    manifest: Manifest,
    registrar: LiveRegistrar,
    slot: ReaderSlot,
    tmp_path: Path,
) -> None:
    chain = HookedChain.connect(network.state.urls, timeout=2.0)
    assert isinstance(chain, HookedChain)
    kiosk_key = 2 if moment == "after_outbox_write" else 3
    election = election_on(network, chain, manifest, registrar, kiosk_key)
    session = make_session(election, registrar.client, slot, tmp_path / "outbox")
    session.services.confirmations = 2
    outbox = HookedOutbox(tmp_path / "outbox")
    session.services.outbox = outbox
    slot.insert(registrar.card(new_resident()))
    session.begin()
    session.card_inserted()
    session.enter_pin(PIN)
    assert session.state is State.BALLOT, session.view
    session.choose({"mayor": ["sato"]})
    session.confirm()
    assert session.state is State.CAST_OR_CHECK

    stopped: list[int] = []

    def stop_the_node_in_use() -> None:
        assert session.state is State.SENDING
        index = network.state.urls.index(chain.current_url)
        network.stop_node(index)
        stopped.append(index)

    if moment == "after_outbox_write":
        outbox.after_write = stop_the_node_in_use
    else:
        chain.after_broadcast = stop_the_node_in_use
    try:
        session.cast()
        assert stopped, "the hook did not run"
        assert session.state is State.RECEIPT, session.view
        receipt = session.view.receipt
        assert receipt is not None
        assert chain.current_url != network.state.urls[stopped[0]]
        cast = election.box.cast_ballots()
        assert [c.ballot_hash for c in cast] == [receipt.ballot_hash]
        assert election.box.ballot_count() == 1
        assert outbox.depth == 0
        assert session.health().ballots_cast == 1
    finally:
        for index in stopped:
            network.start_node(index)
    network.wait_in_sync(timeout=60)


def test_a_kiosk_configured_for_another_election_refuses_to_start(
    network: Devnet, manifest: Manifest, registrar: LiveRegistrar, tmp_path: Path
) -> None:
    chain = Chain.connect(network.state.urls, timeout=2.0)
    election = election_on(network, chain, manifest, registrar, kiosk_key=4)
    path = write_headless_config(
        tmp_path / "kiosk",
        election,
        registrar.client,
        network.state.urls,
        reader="Virtual PCD 00 01",
        outbox=tmp_path / "outbox",
    )
    services = build_services(HeadlessConfig.load(path))  # as configured: it starts
    assert services.context.base_hash == election.box.base_hash()
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "quorum": 3}))  # not the deployed election's quorum
    with pytest.raises(ConfigError, match="base hashes differ"):
        build_services(HeadlessConfig.load(path))
    path.write_text(json.dumps({**data, "rpc": ["http://127.0.0.1:9"]}))  # nothing listens
    code, events = run_kiosk(path)
    assert code == 1 and events[-1]["state"] == "chain_unavailable", events
