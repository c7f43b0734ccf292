"""The indexer: validated like the core, k confirmations, idempotent, reorg-safe, and it
notices when nodes disagree (real eth-tester chains served over JSON-RPC)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from contracts.chain import Chain
from election.primitives import blind_rsa
from election.validity import select_ballots
from tally_server.indexer import Indexer, IndexerError, ParallelJudge, counts, judge
from tally_server.models import (
    Ballot,
    CheckedBallot,
    IndexerEvent,
    NodeDisagreement,
    NodeObservation,
)
from tally_server.reasons import reason_texts
from tally_server.testing import ElectionKit, TesterBackend, TesterRpcServer

from .conftest import make_indexer


def _catch_up(indexer: Indexer) -> None:
    indexer.run(poll_seconds=0.01, once=True)


def _rows(factory: sessionmaker[Session]) -> list[Ballot]:
    with factory() as session:
        return list(session.scalars(select(Ballot).order_by(Ballot.seq)))


def test_ballots_are_validated_with_the_core_rules(
    kit: ElectionKit, index_db: sessionmaker[Session]
) -> None:
    cast = [kit.cast() for _ in range(4)]
    bad = kit.cast(corrupt=True)
    checked_code, _ = kit.challenge()
    cast.append(kit.cast())
    indexer = make_indexer(kit, index_db)
    _catch_up(indexer)

    assert counts(index_db) == {
        "ballots": 6,
        "counted": 5,
        "excluded": 1,
        "checked": 1,
        "indexed_to_block": kit.block_number(),
    }
    rows = _rows(index_db)
    assert [r.seq for r in rows] == list(range(6))
    assert {r.tracking_code for r in rows if r.status == "counted"} == {
        c.tracking_code for c in cast
    }
    (excluded,) = [r for r in rows if r.status == "excluded"]
    assert (excluded.seq, excluded.reason_code) == (bad.seq, "bad_proof")
    assert reason_texts("bad_proof")[0].startswith("票の正当性")
    with index_db() as session:
        assert session.scalars(select(CheckedBallot.tracking_code)).all() == [checked_code]

    # The same verdicts as the core's select_ballots over the chain's ballots.
    chain_casts = kit.box.cast_ballots(kit.first_block)
    checked = {c.ballot_hash for c in kit.box.challenged_ballots(kit.first_block)}
    core = select_ballots(kit.context, chain_casts, checked)
    assert {(e.seq, e.code) for e in core.excluded} == {
        (r.seq, r.reason_code) for r in rows if r.status == "excluded"
    }
    assert {c.seq for c, _ in core.counted} == {r.seq for r in rows if r.status == "counted"}


def test_revote_supersedes_and_matches_the_core(
    rpc: TesterRpcServer,
    registrar_key: blind_rsa.RSAPrivateKey,
    index_db: sessionmaker[Session],
) -> None:
    kit = ElectionKit(Chain.connect([rpc.url]), registrar_key, revote=True)
    token = kit.token()
    first = kit.cast(token=token)
    kit.cast()
    second = kit.cast(token=token)
    indexer = make_indexer(kit, index_db, batch_blocks=1)  # the two casts in separate batches
    _catch_up(indexer)
    status = {r.seq: (r.status, r.reason_code) for r in _rows(index_db)}
    assert status[first.seq] == ("excluded", "superseded")
    assert status[second.seq] == ("counted", None)
    core = select_ballots(kit.context, kit.box.cast_ballots(kit.first_block))
    assert {(e.seq, e.code) for e in core.excluded} == {(first.seq, "superseded")}


def test_only_blocks_with_k_confirmations_are_indexed(
    kit: ElectionKit, index_db: sessionmaker[Session]
) -> None:
    indexer = make_indexer(kit, index_db, confirmations=2)
    _catch_up(indexer)
    info = kit.cast()
    _catch_up(indexer)
    assert counts(index_db)["ballots"] == 0
    kit.mine(1)
    _catch_up(indexer)
    assert counts(index_db)["ballots"] == 0
    kit.mine(1)
    _catch_up(indexer)
    assert counts(index_db)["ballots"] == 1
    assert counts(index_db)["indexed_to_block"] == info.block_number


def test_the_same_ballot_seen_twice_is_counted_once(
    kit: ElectionKit, index_db: sessionmaker[Session]
) -> None:
    for _ in range(3):
        kit.cast()
    end = kit.block_number()
    a = make_indexer(kit, index_db)
    b = make_indexer(kit, index_db)  # a second indexer process on the same database
    assert a.index_range(kit.first_block, end) > 0
    assert b.index_range(kit.first_block, end) == 0  # the same batch again: refused, skipped
    assert b.index_range(kit.first_block + 1, end) == 0  # overlapping: its ballots are there
    kit.cast()
    _catch_up(b)
    _catch_up(a)
    assert counts(index_db)["ballots"] == 4
    assert [r.seq for r in _rows(index_db)] == [0, 1, 2, 3]


def test_a_reorganisation_is_rolled_back_and_the_canonical_chain_indexed(
    rpc: TesterRpcServer, kit: ElectionKit, index_db: sessionmaker[Session]
) -> None:
    kept = kit.cast()
    snapshot = kit.chain.call(lambda w3: w3.provider.make_request("evm_snapshot", []))["result"]
    orphaned = [kit.cast() for _ in range(3)]
    orphaned_check, _ = kit.challenge()
    indexer = make_indexer(kit, index_db, confirmations=1, batch_blocks=2)
    _catch_up(indexer)
    indexed = {r.tracking_code for r in _rows(index_db)}
    assert {o.tracking_code for o in orphaned[:2]} <= indexed

    # The fork: the chain forgets everything after the snapshot and grows another branch.
    kit.chain.call(lambda w3: w3.provider.make_request("evm_revert", [snapshot]))
    kit.kiosk.reset_nonce()
    kit.admin.reset_nonce()
    canonical = [kit.cast() for _ in range(2)]
    kit.mine(4)
    _catch_up(indexer)

    rows = _rows(index_db)
    assert [r.tracking_code for r in rows] == [
        kept.tracking_code,
        *(c.tracking_code for c in canonical),
    ]
    assert [r.seq for r in rows] == [0, 1, 2]
    with index_db() as session:
        assert orphaned_check not in session.scalars(select(CheckedBallot.tracking_code)).all()
        events = session.scalars(select(IndexerEvent).where(IndexerEvent.kind == "reorg")).all()
    assert events and json.loads(events[0].detail)["ballots_removed"] >= 2
    assert counts(index_db)["indexed_to_block"] == kit.block_number() - 1


def test_nodes_that_disagree_are_recorded(
    rpc: TesterRpcServer, kit: ElectionKit, index_db: sessionmaker[Session]
) -> None:
    kit.cast()
    with TesterRpcServer(rpc.backend) as mirror, TesterRpcServer(TesterBackend()) as other:
        agreeing = make_indexer(kit, index_db, [rpc.url, mirror.url])
        _catch_up(agreeing)
        agreeing.observe_nodes()
        with index_db() as session:
            assert session.scalars(select(NodeDisagreement)).all() == []
        # Another chain (same heights, other blocks), and later far behind.
        other_kit_chain = Chain.connect([other.url])
        blocks = kit.block_number()
        other_kit_chain.call(
            lambda w3: [
                w3.eth.wait_for_transaction_receipt(
                    w3.eth.send_transaction(
                        {"from": w3.eth.accounts[0], "to": w3.eth.accounts[1], "value": 1}
                    )
                )
                for _ in range(blocks)
            ]
        )
        split = make_indexer(kit, index_db, [rpc.url, other.url])
        split.observe_nodes()
        kit.mine(5)
        split.observe_nodes()
    with index_db() as session:
        found = {(d.kind, d.height) for d in session.scalars(select(NodeDisagreement))}
    assert ("block_hash", blocks) in found
    assert any(kind == "head" for kind, _ in found)


def test_a_contract_of_another_election_is_refused(
    rpc: TesterRpcServer,
    kit: ElectionKit,
    registrar_key: blind_rsa.RSAPrivateKey,
    index_db: sessionmaker[Session],
) -> None:
    other = ElectionKit(Chain.connect([rpc.url]), registrar_key)
    elsewhere = dataclasses.replace(kit.context, contract_address=other.context.contract_address)
    wrong = Indexer(
        dataclasses.replace(kit.setup, context=elsewhere), kit.chain, index_db, confirmations=0
    )
    with pytest.raises(IndexerError) as info:
        wrong.check_contract()
    assert info.value.code == "wrong_contract"
    make_indexer(kit, index_db).check_contract()


def test_parallel_checking_gives_the_same_verdicts(kit: ElectionKit) -> None:
    for i in range(8):
        kit.cast(corrupt=i in (2, 5))
    casts = kit.box.cast_ballots(kit.first_block)
    parallel = ParallelJudge(kit.setup, 2)
    try:
        together = parallel(kit.setup, casts)
    finally:
        parallel.close()
    alone = [judge(kit.setup, c) for c in casts]
    assert together == alone
    assert [v.code for v in together].count("bad_proof") == 2


def test_a_node_down_is_survived(
    rpc: TesterRpcServer, kit: ElectionKit, index_db: sessionmaker[Session]
) -> None:
    kit.cast()
    with TesterRpcServer(rpc.backend) as doomed:
        indexer = make_indexer(kit, index_db, [doomed.url, rpc.url])
        doomed.stop()  # the first node dies: reads fail over to the second
        _catch_up(indexer)
        indexer.observe_nodes()
    assert counts(index_db)["ballots"] == 1
    with index_db() as session:
        rows = session.scalars(select(NodeObservation).order_by(NodeObservation.id)).all()
    assert [(r.url, r.ok) for r in rows[-2:]] == [(doomed.url, False), (rpc.url, True)]

    with TesterRpcServer(rpc.backend) as alone:
        only = make_indexer(kit, index_db, [alone.url])
        alone.stop()
        kit.cast()
        _catch_up(only)  # no node answers: recorded, not a crash
    with index_db() as session:
        kinds = session.scalars(select(IndexerEvent.kind)).all()
    assert "chain_error" in kinds
    assert counts(index_db)["ballots"] == 1


def test_a_reorganisation_to_a_shorter_chain_is_rolled_back(
    rpc: TesterRpcServer, kit: ElectionKit, index_db: sessionmaker[Session]
) -> None:
    kept = kit.cast()
    snapshot = kit.chain.call(lambda w3: w3.provider.make_request("evm_snapshot", []))["result"]
    for _ in range(3):
        kit.cast()
    indexer = make_indexer(kit, index_db, batch_blocks=1)
    _catch_up(indexer)
    assert counts(index_db)["ballots"] == 4
    kit.chain.call(lambda w3: w3.provider.make_request("evm_revert", [snapshot]))
    kit.kiosk.reset_nonce()
    _catch_up(indexer)  # the indexed blocks are now above the head: gone
    assert [r.tracking_code for r in _rows(index_db)] == [kept.tracking_code]
    assert counts(index_db)["indexed_to_block"] == kit.block_number()
