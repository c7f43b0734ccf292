"""The embedded chain behind JSON-RPC: eth-tester (py-evm) answering on a loopback port, so
the demo and the tests read it through the same JSON-RPC client as a real node (web3 over
HTTP, ``eth_getLogs``, receipts, blocks). ``ippyo demo`` uses it as its embedded default; tests
use several servers on one backend (nodes that agree) or separate backends (nodes that
disagree), and ``evm_snapshot``/``evm_revert`` for real reorganisations."""

from __future__ import annotations

import ast
import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from eth_utils.address import to_checksum_address
from web3 import EthereumTesterProvider, Web3
from web3.exceptions import BlockNotFound
from web3.types import Wei
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from contracts.chain import Chain


def _rpc_json(value: Any) -> Any:
    """A tester result in JSON-RPC form: quantities as hex, bytes as 0x-hex."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(k): _rpc_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rpc_json(v) for v in value]
    return str(value)


class TesterBackend:
    """One eth-tester chain (py-evm, auto-mining) answering JSON-RPC requests, one at a time;
    ``evm_snapshot``/``evm_revert``/``evm_mine`` make real reorganisations for tests."""

    __test__ = False  # not a pytest class, whatever its name

    def __init__(self) -> None:
        self.w3 = Web3(EthereumTesterProvider())
        self.provider: EthereumTesterProvider = self.w3.provider  # type: ignore[assignment]
        self.lock = threading.Lock()
        self._tx_block: dict[str, int] = {}
        self._scanned = -1

    def handle(self, method: str, params: list[Any]) -> Any:
        tester = self.provider.ethereum_tester
        assert tester is not None
        with self.lock:
            if method == "evm_snapshot":
                return hex(tester.take_snapshot())
            if method == "evm_revert":
                snap = params[0]
                tester.revert_to_snapshot(int(snap, 16) if isinstance(snap, str) else snap)
                self._tx_block, self._scanned = {}, -1  # the reverted blocks are gone
                return True
            if method == "evm_mine":
                tester.mine_blocks(int(params[0]) if params else 1)
                return True
            if method == "net_peerCount":
                return "0x0"
            if method == "eth_getLogs":
                return self._get_logs(params[0])
            if method == "eth_getTransactionByHash":
                return self._transaction(params[0])
            try:
                response = self.w3.manager._make_request(method, params)  # type: ignore[arg-type]
            except BlockNotFound:
                return None
        if "error" in response:
            if method.startswith("eth_getBlockBy"):
                return None  # as real nodes answer for a block they do not have
            raise RuntimeError(str(response["error"]))
        return _rpc_json(response["result"])

    # eth-tester finds a transaction by scanning blocks back from the head, so reading a
    # chain of a few thousand blocks costs minutes per query; these answer the same from the
    # blocks asked for (tests/tally_server/test_testing.py compares both).
    def _request(self, method: str, params: list[Any]) -> Any:
        response = self.w3.manager._make_request(method, params)  # type: ignore[arg-type]
        if "error" in response:
            raise RuntimeError(str(response["error"]))
        return response["result"]

    def _block_of(self, tx_hash: str) -> int | None:
        tester = self.provider.ethereum_tester
        assert tester is not None
        key = tx_hash.lower()
        if key not in self._tx_block:
            head = int(self._request("eth_blockNumber", []))
            for height in range(self._scanned + 1, head + 1):
                block = tester.get_block_by_number(height)
                for tx in block["transactions"]:
                    self._tx_block[_hex(tx)] = height
            self._scanned = head
        return self._tx_block.get(key)

    def _transaction(self, tx_hash: str) -> Any:
        tester = self.provider.ethereum_tester
        assert tester is not None
        height = self._block_of(tx_hash)
        if height is None:
            return None
        block = tester.get_block_by_number(height, full_transactions=True)
        for tx in block["transactions"]:
            if _hex(tx["hash"]) == tx_hash.lower():
                return _rpc_json({_CAMEL.get(k, k): v for k, v in tx.items()})
        return None

    def _get_logs(self, query: dict[str, Any]) -> list[Any]:
        tester = self.provider.ethereum_tester
        assert tester is not None
        chain = tester.backend.chain

        def number(tag: Any, default: int) -> int:
            if tag is None or tag == "latest":
                return default
            if tag == "earliest":
                return 0
            return int(tag, 16) if isinstance(tag, str) else int(tag)

        head = int(self._request("eth_blockNumber", []))
        first, last = number(query.get("fromBlock"), head), number(query.get("toBlock"), head)
        if last > head:
            raise RuntimeError(f"No block found for block number: {last}")
        address = query.get("address")
        addresses = {a.lower() for a in ([address] if isinstance(address, str) else address or [])}
        wanted = query.get("topics") or []
        out: list[Any] = []
        for height in range(first, last + 1):
            block = chain.get_canonical_block_by_number(height)
            index = 0
            for position, (tx, receipt) in enumerate(
                zip(block.transactions, block.get_receipts(chain.chaindb), strict=True)
            ):
                for log in receipt.logs:
                    topics = ["0x" + t.to_bytes(32, "big").hex() for t in log.topics]
                    entry = {
                        "type": "mined",
                        "address": to_checksum_address(bytes(log.address)),
                        "topics": topics,
                        "data": "0x" + bytes(log.data).hex(),
                        "blockNumber": hex(height),
                        "blockHash": "0x" + bytes(block.hash).hex(),
                        "transactionHash": "0x" + bytes(tx.hash).hex(),
                        "transactionIndex": hex(position),
                        "logIndex": hex(index),
                    }
                    index += 1
                    if addresses and str(entry["address"]).lower() not in addresses:
                        continue
                    if _topics_match(wanted, topics):
                        out.append(entry)
        return out


_CAMEL = {
    "block_hash": "blockHash",
    "block_number": "blockNumber",
    "transaction_index": "transactionIndex",
    "chain_id": "chainId",
    "access_list": "accessList",
    "max_fee_per_gas": "maxFeePerGas",
    "max_priority_fee_per_gas": "maxPriorityFeePerGas",
    "gas_price": "gasPrice",
    "data": "input",
}


def _hex(value: Any) -> str:
    return (value if isinstance(value, str) else "0x" + bytes(value).hex()).lower()


def _topics_match(wanted: list[Any], topics: list[str]) -> bool:
    for i, want in enumerate(wanted):
        if want is None:
            continue
        options = {w.lower() for w in (want if isinstance(want, list) else [want])}
        if i >= len(topics) or topics[i].lower() not in options:
            return False
    return True


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class TesterRpcServer:
    """Serve a :class:`TesterBackend` on 127.0.0.1 (several servers may share one backend:
    nodes that agree; separate backends: nodes that disagree)."""

    __test__ = False

    def __init__(self, backend: TesterBackend | None = None) -> None:
        self.backend = backend or TesterBackend()
        self._server = make_server(
            "127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_QuietHandler
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> TesterRpcServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def _wsgi(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        try:
            body = json.loads(request.get_data())
        except ValueError:
            return Response("not JSON", status=400)(environ, start_response)
        batch = isinstance(body, list)
        answers = [self._one(item) for item in (body if batch else [body])]
        payload = json.dumps(answers if batch else answers[0])
        return Response(payload, mimetype="application/json")(environ, start_response)

    def _one(self, item: dict[str, Any]) -> dict[str, Any]:
        base = {"jsonrpc": "2.0", "id": item.get("id")}
        try:
            return {**base, "result": self.backend.handle(item["method"], item.get("params", []))}
        except Exception as exc:  # a refusal from the chain: JSON-RPC error, revert data kept
            message = str(exc)
            error: dict[str, Any] = {"code": -32000, "message": message}
            _, _, literal = message.partition("execution reverted: ")
            if literal.startswith(("b'", 'b"')):
                try:
                    data = ast.literal_eval(literal)
                except (ValueError, SyntaxError):
                    data = None
                if isinstance(data, bytes):
                    error = {"code": 3, "message": "execution reverted", "data": "0x" + data.hex()}
            return {**base, "error": error}


def fund_from_faucet(chain: Chain, addresses: Sequence[str], wei: int = 10**21) -> None:
    """Give accounts ether from the tester's unlocked first account, over JSON-RPC (the
    embedded chain behind :class:`TesterRpcServer`; a real node has no such account)."""

    def go(w3: Web3) -> None:
        faucet = w3.eth.accounts[0]
        for address in addresses:
            tx = w3.eth.send_transaction(
                {"from": faucet, "to": to_checksum_address(address), "value": Wei(wei)}
            )
            w3.eth.wait_for_transaction_receipt(tx)

    chain.call(go)
