"""The BallotBox suite on the embedded chain (eth-tester, py-evm)."""

from __future__ import annotations

import pytest
from eth_account import Account

from contracts.chain import Chain, Sender

from .suite import BallotBoxSuite


@pytest.fixture(scope="module")
def chain() -> Chain:
    return Chain.embedded_tester()


@pytest.fixture(scope="module")
def senders(chain: Chain) -> list[Sender]:
    accounts = [Sender(chain, Account.create()) for _ in range(4)]
    chain.fund([s.address for s in accounts], 10**21)
    return accounts


class TestOnEthTester(BallotBoxSuite):
    pass
