"""The indexer on three real geth Clique nodes: after k confirmations, validated, and each
ballot found on every node; a node that stops is reported, and the index goes on."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from sqlalchemy import select

from contracts.chain import Chain, Sender
from devnet.network import Devnet
from devnet.testing import running_devnet
from election.primitives import blind_rsa
from tally_server.app import create_app
from tally_server.config import TallyConfig
from tally_server.db import make_engine, sessions, upgrade
from tally_server.indexer import Indexer, counts
from tally_server.models import NodeObservation
from tally_server.testing import ElectionKit


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    with running_devnet(tmp_path_factory.mktemp("devnet"), 3) as net:
        yield net


def test_index_on_three_geth_nodes(
    network: Devnet, registrar_key: blind_rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    urls = network.state.urls
    chain = Chain.connect(urls, timeout=3.0)
    admin, kiosk = (Sender(chain, Account.from_key(k)) for k in network.state.funded_keys[:2])
    kit = ElectionKit(chain, registrar_key, admin=admin, kiosk=kiosk)
    cast = [kit.cast() for _ in range(4)]
    bad = kit.cast(corrupt=True)
    checked_code, _ = kit.challenge()

    url = f"sqlite:///{tmp_path / 'tally.db'}"
    upgrade(url)
    engine = make_engine(url)
    factory = sessions(engine)
    indexer = Indexer(kit.setup, Chain.connect(urls, timeout=3.0), factory, confirmations=2)
    indexer.check_contract()
    deadline = time.monotonic() + 60
    while counts(factory)["ballots"] + counts(factory)["checked"] < 6:
        assert time.monotonic() < deadline, counts(factory)
        indexer.run(poll_seconds=0.2, once=True)
        time.sleep(0.5)
    got = counts(factory)
    assert (got["ballots"], got["counted"], got["excluded"], got["checked"]) == (5, 4, 1, 1)
    assert got["indexed_to_block"] <= kit.block_number() - 2

    config = TallyConfig(
        database_url=url,
        election_file=kit.write_setup(tmp_path / "setup.json"),
        rpc_urls=tuple(urls),
    )
    app = create_app(config)
    client = app.test_client()
    for info in cast:
        item = client.get(f"/api/v1/ballots/{info.tracking_code}").json
        assert item["status"] == "counted"
        assert [n["state"] for n in item["nodes"]] == ["present"] * 3
    assert client.get(f"/api/v1/ballots/{bad.tracking_code}").json["reason"]["code"] == "bad_proof"
    opened = client.get(f"/api/v1/checked/{checked_code}").json
    assert opened["opened"]["ok"] and [n["state"] for n in opened["nodes"]] == ["present"] * 3

    network.stop_node(2)
    try:
        indexer.observe_nodes()
        with factory() as session:
            latest = {
                o.url: o.ok
                for o in session.scalars(select(NodeObservation).order_by(NodeObservation.id))
            }
        assert latest == {urls[0]: True, urls[1]: True, urls[2]: False}
        later = kit.cast()  # two signers of three still seal
        deadline = time.monotonic() + 60
        while counts(factory)["ballots"] < 6:
            assert time.monotonic() < deadline
            indexer.run(poll_seconds=0.2, once=True)
            time.sleep(0.5)
        item = client.get(f"/api/v1/ballots/{later.tracking_code}").json
        assert [n["state"] for n in item["nodes"]] == ["present", "present", "unreachable"]
    finally:
        network.start_node(2)
        app.extensions["tally"].engine.dispose()
        engine.dispose()
