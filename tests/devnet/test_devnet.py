"""Three real geth Clique nodes on 127.0.0.1: the BallotBox suite, concurrency, failover,
catch-up after a restart, and a clear stall report when too few signers are left."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from eth_account import Account
from web3.exceptions import Web3RPCError

from contracts.chain import Chain, ChainStalled, Sender, rpc_error_message
from contracts.client import BallotBox
from devnet.network import Devnet
from devnet.testing import running_devnet
from election.primitives import blind_rsa

from ..contracts.suite import BallotBoxSuite, Kit, ballot_bytes


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    with running_devnet(tmp_path_factory.mktemp("devnet"), 3) as net:
        yield net


@pytest.fixture(scope="module")
def chain(network: Devnet) -> Chain:
    return Chain.connect(network.state.urls, timeout=2.0)


@pytest.fixture(scope="module")
def senders(chain: Chain, network: Devnet) -> list[Sender]:
    return [Sender(chain, Account.from_key(k)) for k in network.state.funded_keys]


class TestOnGethNodes(BallotBoxSuite):
    pass


def _open_election(
    registrar_key: blind_rsa.RSAPrivateKey, senders: list[Sender]
) -> tuple[Kit, BallotBox]:
    """A fresh election: deployed by senders[0] (admin) with senders[1] as kiosk, and open."""
    kit = Kit(registrar_key)
    box = kit.deploy(senders[0], [senders[1]])
    box.open(senders[0])
    return kit, box


def _cast_many(
    kit: Kit,
    box: BallotBox,
    sender: Sender,
    count: int,
    out: list[bytes],
    errors: list[BaseException],
) -> None:
    try:
        pending = []
        for _ in range(count):
            voter, ballot = kit.voter(), ballot_bytes()
            pending.append(
                box.submit_ballot(
                    sender,
                    voter.token.address,
                    voter.signature,
                    ballot,
                    kit.bind(box, voter, ballot),
                )
            )
            out.append(ballot)
        for p in pending:
            box.cast_receipt(p)
    except BaseException as exc:
        errors.append(exc)


def test_concurrent_casts_read_back_identically_from_every_node(
    network: Devnet, chain: Chain, senders: list[Sender], registrar_key: blind_rsa.RSAPrivateKey
) -> None:
    kit, box = _open_election(registrar_key, senders)
    ballots: list[bytes] = []
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=_cast_many, args=(kit, box, s, 5, ballots, errors))
        for s in senders[2:6]
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    network.wait_in_sync()
    per_node = []
    for url in network.state.urls:
        single = BallotBox(Chain.connect([url]), box.address)
        per_node.append([(c.seq, c.token, c.ballot) for c in single.cast_ballots()])
    assert len(per_node[0]) == 20
    assert per_node[0] == per_node[1] == per_node[2]
    assert sorted(b for _, _, b in per_node[0]) == sorted(ballots)


def test_one_node_down_casts_continue_and_it_catches_up(
    network: Devnet, chain: Chain, senders: list[Sender], registrar_key: blind_rsa.RSAPrivateKey
) -> None:
    kit, box = _open_election(registrar_key, senders)
    current = network.state.urls.index(chain.current_url)
    network.stop_node(current)  # the node the client was talking to
    try:
        for _ in range(3):
            voter, ballot = kit.voter(), ballot_bytes()
            box.cast_ballot(
                senders[1],
                voter.token.address,
                voter.signature,
                ballot,
                kit.bind(box, voter, ballot),
            )
        assert chain.current_url != network.state.urls[current]
        assert box.ballot_count() == 3
        health = {h.url: h for h in chain.health()}
        down = health[network.state.urls[current]]
        assert not down.ok and down.error and down.block is None
        assert sum(h.ok for h in health.values()) == 2
        assert all(h.peers == 1 for h in health.values() if h.ok)
    finally:
        network.start_node(current)
    network.wait_in_sync(timeout=60)
    restarted = BallotBox(Chain.connect([network.state.urls[current]]), box.address)
    assert [c.ballot for c in restarted.cast_ballots()] == [c.ballot for c in box.cast_ballots()]


def test_two_nodes_down_the_client_reports_a_stall(
    network: Devnet, chain: Chain, senders: list[Sender], registrar_key: blind_rsa.RSAPrivateKey
) -> None:
    kit, box = _open_election(registrar_key, senders)
    network.stop_node(1)
    network.stop_node(2)
    try:
        voter, ballot = kit.voter(), ballot_bytes()
        pending = box.submit_ballot(
            senders[1], voter.token.address, voter.signature, ballot, kit.bind(box, voter, ballot)
        )
        started = time.monotonic()
        with pytest.raises(ChainStalled, match="no block sealed"):
            chain.wait_for_receipt(pending.tx_hash, stall_after=6.0, timeout=60.0)
        assert time.monotonic() - started < 20
    finally:
        network.start_node(1)
        network.start_node(2)
    network.wait_in_sync(timeout=60)
    # Once the signers are back, the waiting ballot is sealed: nothing was lost.
    receipt = box.cast_receipt(pending, timeout=60)
    assert receipt.seq == 0


def test_rebroadcast_after_failover_is_already_known_and_lands_once(
    network: Devnet, chain: Chain, senders: list[Sender], registrar_key: blind_rsa.RSAPrivateKey
) -> None:
    """The kiosk sent a ballot to one node, that node died, and the kiosk re-broadcasts the
    same signed bytes to the next one, which already has it from gossip: geth answers
    "already known" as a web3 ``Web3RPCError`` (not a ``ValueError``); the client takes that
    as success and the ballot is counted once."""
    kit, box = _open_election(registrar_key, senders)
    voter, ballot = kit.voter(), ballot_bytes()
    pending = box.submit_ballot(
        senders[1], voter.token.address, voter.signature, ballot, kit.bind(box, voter, ballot)
    )
    current = network.state.urls.index(chain.current_url)
    other = (current + 1) % len(network.state.urls)
    direct = Chain.connect([network.state.urls[other]])
    # The premise: the other node already holds it (sent there directly, as gossip would).
    try:
        direct.call(lambda w3: w3.eth.send_raw_transaction(pending.raw))
    except Web3RPCError as exc:
        assert "already known" in rpc_error_message(exc) or "nonce too low" in rpc_error_message(
            exc
        )
    with pytest.raises(Web3RPCError) as info:
        direct.call(lambda w3: w3.eth.send_raw_transaction(pending.raw))
    assert rpc_error_message(info.value) in ("already known", "nonce too low")
    network.stop_node(current)
    try:
        assert chain.send_raw(pending.raw) == pending.tx_hash  # fails over, "already known"
        assert chain.current_url != network.state.urls[current]
        receipt = box.cast_receipt(pending, timeout=60)
        assert receipt.seq == 0
        assert chain.send_raw(pending.raw) == pending.tx_hash  # sealed: "nonce too low", ours
        assert box.ballot_count() == 1
        assert [c.ballot for c in box.cast_ballots()] == [ballot]
    finally:
        network.start_node(current)
    network.wait_in_sync(timeout=60)
