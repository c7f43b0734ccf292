"""A ballot is final after the configured number of confirmations, with its block hash
re-checked; a reorganisation that drops it is reported (eth-tester's snapshots make a real
reorganisation of the embedded chain)."""

from __future__ import annotations

import pytest
from eth_account import Account

from contracts.chain import Chain, ChainReorganized, ChainStalled, Sender
from contracts.client import BallotBox, CastReceipt
from election.primitives import blind_rsa

from .suite import Kit, ballot_bytes


@pytest.fixture
def setup(registrar_key: blind_rsa.RSAPrivateKey) -> tuple[Chain, Kit, BallotBox, Sender]:
    chain = Chain.embedded_tester(confirmations=2)
    admin = Sender(chain, Account.create())
    chain.fund([admin.address], 10**21)
    kit = Kit(registrar_key)
    box = kit.deploy(admin, [admin])
    box.open(admin)
    return chain, kit, box, admin


def _cast(kit: Kit, box: BallotBox, sender: Sender) -> CastReceipt:
    voter, ballot = kit.voter(), ballot_bytes()
    return box.cast_ballot(
        sender, voter.token.address, voter.signature, ballot, kit.bind(box, voter, ballot)
    )


def _new_blocks(chain: Chain, count: int) -> None:
    for _ in range(count):  # eth-tester seals one block per transaction
        chain.fund([Account.create().address], 1)


def test_final_after_the_configured_confirmations(
    setup: tuple[Chain, Kit, BallotBox, Sender],
) -> None:
    chain, kit, box, admin = setup
    cast = _cast(kit, box, admin)
    assert cast.block_hash and len(cast.block_hash) == 32
    with pytest.raises(ChainStalled, match="2 confirmations"):
        chain.wait_final(cast.tx_hash, stall_after=0.3, timeout=5)  # no block on top yet
    _new_blocks(chain, 1)
    with pytest.raises(ChainStalled):
        chain.wait_final(cast.tx_hash, stall_after=0.3, timeout=5)  # one is not enough
    _new_blocks(chain, 1)
    final = box.confirm(cast)
    assert final == cast  # same block, same hash, same seq
    assert box.confirm(cast, confirmations=0) == cast


def test_a_reorganisation_that_drops_the_ballot_is_reported(
    setup: tuple[Chain, Kit, BallotBox, Sender],
) -> None:
    chain, kit, box, admin = setup
    snapshot = chain.call(lambda w3: w3.testing.snapshot())
    cast = _cast(kit, box, admin)
    chain.call(lambda w3: w3.testing.revert(snapshot))  # the chain forgets that block
    admin.reset_nonce()
    _new_blocks(chain, 3)  # a competing branch, longer than the confirmations
    assert chain.call(lambda w3: bytes(w3.eth.get_block(cast.block_number)["hash"])) != (
        cast.block_hash
    )
    with pytest.raises(ChainReorganized, match="no longer on the chain"):
        box.confirm(cast, timeout=10)
    assert box.ballot_count() == 0
