"""The test chain's fast eth_getLogs and eth_getTransactionByHash answer exactly what
eth-tester's own do (the test double must not change what the indexer sees)."""

from __future__ import annotations

from typing import Any

from eth_utils.crypto import keccak

from tally_server.testing import ElectionKit, TesterRpcServer


def test_fast_reads_answer_like_eth_tester(rpc: TesterRpcServer, kit: ElectionKit) -> None:
    for i in range(3):
        kit.cast(corrupt=i == 1)
    kit.challenge()
    backend = rpc.backend

    def theirs(method: str, params: list[Any]) -> Any:
        from tally_server.testing import _rpc_json

        response = backend.w3.manager._make_request(method, params)  # type: ignore[arg-type]
        return _rpc_json(response["result"])

    head = hex(kit.block_number())
    cast_topic = "0x" + keccak(text="BallotCast(uint256,address,bytes32)").hex()
    contract = kit.box.address
    everything = {"fromBlock": "0x0", "toBlock": head}
    all_logs = backend.handle("eth_getLogs", [everything])
    assert all_logs and all_logs == theirs("eth_getLogs", [everything])
    by_topic = {**everything, "topics": [cast_topic]}
    assert backend.handle("eth_getLogs", [by_topic]) == theirs("eth_getLogs", [by_topic])
    # (eth-tester's own cannot be asked by address through web3's manager: filter its answer)
    by_address = {"fromBlock": hex(kit.first_block), "toBlock": head, "address": contract}
    assert backend.handle("eth_getLogs", [by_address]) == [
        log
        for log in all_logs
        if log["address"] == contract and int(log["blockNumber"], 16) >= kit.first_block
    ]
    for log in backend.handle("eth_getLogs", [{"fromBlock": "0x0", "toBlock": head}]):
        tx = log["transactionHash"]
        assert backend.handle("eth_getTransactionByHash", [tx]) == theirs(
            "eth_getTransactionByHash", [tx]
        )
