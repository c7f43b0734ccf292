"""Connections to a chain: the embedded eth-tester, or several RPC endpoints with failover.

The kiosk, the tally server and the verifier talk to "the chain", never to one node: a
:class:`Chain` holds every endpoint it was given, checks their health, sends each request to
the first healthy one and moves on when a node stops answering. When no node produces blocks
any more it says so (:class:`ChainStalled`) instead of waiting forever.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import EthereumTesterProvider, Web3
from web3.exceptions import BlockNotFound, TransactionNotFound, Web3RPCError
from web3.middleware import ExtraDataToPOAMiddleware
from web3.providers.rpc import HTTPProvider
from web3.types import RPCEndpoint, Wei

T = TypeVar("T")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class ChainError(Exception):
    """Base class of the chain layer's errors."""


class ChainUnavailable(ChainError):
    """No endpoint answers. ``errors`` maps each endpoint to what went wrong."""

    def __init__(self, errors: dict[str, str]) -> None:
        detail = "; ".join(f"{url}: {err}" for url, err in errors.items())
        super().__init__(f"no chain node answers ({detail})")
        self.errors = errors


class ChainStalled(ChainError):
    """Nodes answer but no new block has been sealed for too long (too few signers live?)."""


class ChainReorganized(ChainError):
    """A transaction's block is no longer on the chain (a reorganisation dropped it)."""


_CONNECTION_ERRORS = (requests.ConnectionError, requests.Timeout, ConnectionError, OSError)


@dataclass(frozen=True)
class EndpointHealth:
    url: str
    ok: bool
    block: int | None
    peers: int | None
    error: str | None


class Chain:
    """One logical chain behind one or more endpoints."""

    def __init__(
        self,
        endpoints: Sequence[tuple[str, Web3]],
        *,
        embedded: bool = False,
        confirmations: int = 0,
    ) -> None:
        if not endpoints:
            raise ValueError("a chain needs at least one endpoint")
        if confirmations < 0:
            raise ValueError("confirmations must be 0 or more")
        #: blocks on top of a transaction's block before it counts as final (0: at inclusion,
        #: right for an engine with immediate finality such as QBFT; Clique has none).
        self.confirmations = confirmations
        self._endpoints = list(endpoints)
        self._current = 0
        self._lock = threading.Lock()
        self.embedded = embedded
        self.chain_id = self.call(lambda w3: int(w3.eth.chain_id))

    # --- construction ---------------------------------------------------------------------------
    @classmethod
    def connect(cls, urls: Sequence[str], *, timeout: float = 5.0, confirmations: int = 0) -> Chain:
        """Endpoints by URL (http://127.0.0.1:8545 ...). Only standard Ethereum JSON-RPC is
        used; the extraData middleware accepts the long extraData of proof-of-authority
        engines (Clique, QBFT, IBFT)."""
        endpoints = []
        for url in urls:
            session = requests.Session()
            # requests looks the proxy settings up in the environment on every request
            # (≈ 0.6 ms); a node on the loopback interface is never reached through a proxy.
            session.trust_env = urlsplit(url).hostname not in _LOOPBACK
            w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": timeout}, session=session))
            # web3's default "validation" middleware asks the node for its chain id before
            # every eth_call (one more round trip per ballot); transactions are signed here
            # with the chain id read once. ENS names are never used.
            w3.middleware_onion.remove("validation")
            w3.middleware_onion.remove("ens_name_to_address")
            w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
            endpoints.append((url, w3))
        return cls(endpoints, confirmations=confirmations)

    @classmethod
    def embedded_tester(cls, *, confirmations: int = 0) -> Chain:
        """The embedded default: an in-process chain (eth-tester, py-evm), auto-mining."""
        w3 = Web3(EthereumTesterProvider())
        return cls([("eth-tester", w3)], embedded=True, confirmations=confirmations)

    # --- requests with failover ----------------------------------------------------------------
    @property
    def urls(self) -> list[str]:
        return [url for url, _ in self._endpoints]

    @property
    def current_url(self) -> str:
        return self._endpoints[self._current][0]

    def call(self, fn: Callable[[Web3], T]) -> T:
        """Run ``fn`` against the current endpoint, failing over to the others in turn."""
        errors: dict[str, str] = {}
        with self._lock:
            start = self._current
        n = len(self._endpoints)
        for step in range(n):
            index = (start + step) % n
            url, w3 = self._endpoints[index]
            try:
                result = fn(w3)
            except _CONNECTION_ERRORS as exc:
                errors[url] = type(exc).__name__
                continue
            if index != start:
                with self._lock:
                    self._current = index
            return result
        raise ChainUnavailable(errors)

    def each(self, fn: Callable[[Web3], T]) -> dict[str, T | ChainError]:
        """Run ``fn`` on every endpoint (to compare what each node says)."""
        out: dict[str, T | ChainError] = {}
        for url, w3 in self._endpoints:
            try:
                out[url] = fn(w3)
            except _CONNECTION_ERRORS as exc:
                out[url] = ChainUnavailable({url: type(exc).__name__})
        return out

    def health(self) -> list[EndpointHealth]:
        rows = []
        for url, w3 in self._endpoints:
            try:
                block = int(w3.eth.block_number)
                peers = None if self.embedded else int(w3.net.peer_count)
                rows.append(EndpointHealth(url, True, block, peers, None))
            except _CONNECTION_ERRORS as exc:
                rows.append(EndpointHealth(url, False, None, None, type(exc).__name__))
        return rows

    # --- transactions -----------------------------------------------------------------------------
    def send_raw(self, raw: bytes) -> bytes:
        """Broadcast a signed transaction; a node that already has it is fine.

        After a failover the kiosk re-broadcasts what it had sent: the new node may answer
        that it already holds the transaction (geth: "already known"; Besu:
        "Known transaction"), or, once it is sealed, that its nonce is too low. The first is
        success; the second is success only if *this* transaction is on the chain (another
        transaction with the same nonce would mean the ballot was not cast)."""
        tx_hash = bytes(Web3.keccak(raw))

        def send(w3: Web3) -> bytes:
            try:
                if self.embedded:
                    return bytes(w3.eth.send_raw_transaction(raw))
                _raw_request(w3, "eth_sendRawTransaction", ["0x" + raw.hex()])
                return tx_hash
            except (Web3RPCError, ValueError) as exc:
                message = rpc_error_message(exc).lower()
                if any(known in message for known in _ALREADY_KNOWN):
                    return tx_hash
                if "nonce too low" in message and _transaction_known(w3, tx_hash):
                    return tx_hash
                raise

        return self.call(send)

    def raw_request(self, method: str, params: list[Any]) -> Any:
        """One standard JSON-RPC request as the node answers it, without web3's request and
        result formatting (the ballot's hot path: it costs the sender ~1 ms per request);
        raises ``Web3RPCError`` carrying the node's error. Not for the embedded chain."""
        return self.call(lambda w3: _raw_request(w3, method, params))

    def wait_for_receipt(
        self,
        tx_hash: bytes,
        *,
        timeout: float = 60.0,
        stall_after: float = 12.0,
        rebroadcast: bytes | None = None,
    ) -> Any:
        """Wait for a receipt, failing over between nodes; :class:`ChainStalled` if no block
        is sealed for ``stall_after`` seconds, :class:`ChainError` after ``timeout``."""
        deadline = time.monotonic() + timeout
        last_block, last_progress = -1, time.monotonic()
        url_seen = self.current_url
        receipt = self.call(lambda w3: _receipt_or_none(w3, tx_hash))
        if receipt is not None:
            return receipt
        # Then ask for the receipt again only once the head has moved since the last time we
        # asked (heights read *before* asking): a poll between blocks costs one request.
        asked_at: tuple[int, str] | None = None
        while True:
            if rebroadcast is not None and self.current_url != url_seen:
                # We failed over: the new node may never have seen the transaction.
                url_seen = self.current_url
                self.send_raw(rebroadcast)
                asked_at = None
            block = self.block_number()
            if asked_at != (block, self.current_url):
                asked_at = (block, self.current_url)
                receipt = self.call(lambda w3: _receipt_or_none(w3, tx_hash))
                if receipt is not None:
                    return receipt
            now = time.monotonic()
            if block != last_block:
                last_block, last_progress = block, now
            elif now - last_progress > stall_after:
                raise ChainStalled(
                    f"ブロックが{stall_after:.0f}秒間生成されていません / no block sealed for "
                    f"{stall_after:.0f} s at height {block}: fewer than half of the signer nodes "
                    "may be running"
                )
            if now > deadline:
                raise ChainError(f"transaction 0x{tx_hash.hex()} not mined within {timeout:.0f} s")
            time.sleep(0.05 if self.embedded else 0.2)

    def block_number(self) -> int:
        """The current head's number (plain ``eth_blockNumber``, without web3's formatting on
        an RPC node: receipt polling asks it several times a second per kiosk)."""
        if self.embedded:
            return self.call(lambda w3: int(w3.eth.block_number))
        return int(self.raw_request("eth_blockNumber", []), 16)

    def wait_final(
        self,
        tx_hash: bytes,
        *,
        confirmations: int | None = None,
        timeout: float = 120.0,
        stall_after: float = 12.0,
        rebroadcast: bytes | None = None,
        seen_in: bytes | None = None,
    ) -> Any:
        """The transaction's receipt once ``confirmations`` blocks (default: the chain's
        configured number) are built on its block, after re-reading the receipt and the block
        at that height and checking that both still name the same block hash.

        If a reorganisation moved the transaction to another block, the count starts again
        there; if it dropped the transaction, :class:`ChainReorganized` is raised (the caller
        still holds the signed bytes and may re-broadcast them). ``seen_in`` is the hash of the
        block a receipt named before: if the transaction is gone and that block too, it was
        dropped."""
        needed = self.confirmations if confirmations is None else confirmations
        deadline = time.monotonic() + timeout
        if (
            seen_in is not None
            and self.call(lambda w3: _receipt_or_none(w3, tx_hash)) is None
            and not self.call(lambda w3: _canonical(w3, seen_in))
        ):
            raise ChainReorganized(
                f"トランザクション0x{tx_hash.hex()}のブロックがチェーンから外れました / "
                f"transaction 0x{tx_hash.hex()} was in block 0x{seen_in.hex()}, which is no "
                "longer on the chain"
            )
        receipt = self.wait_for_receipt(
            tx_hash, timeout=timeout, stall_after=stall_after, rebroadcast=rebroadcast
        )
        last_block, last_progress = -1, time.monotonic()
        while True:
            head = self.call(lambda w3: int(w3.eth.block_number))
            number = int(receipt["blockNumber"])
            if head >= number + needed:
                again = self.call(lambda w3: _receipt_or_none(w3, tx_hash))
                if again is None:
                    raise ChainReorganized(
                        f"トランザクション0x{tx_hash.hex()}のブロックがチェーンから外れました / "
                        f"transaction 0x{tx_hash.hex()} was in block {number} "
                        f"(0x{bytes(receipt['blockHash']).hex()}), which is no longer on the chain"
                    )
                at = int(again["blockNumber"])

                def hash_at(w3: Web3, at: int = at) -> bytes:
                    return bytes(w3.eth.get_block(at)["hash"])

                block_hash = self.call(hash_at)
                same_block = again["blockNumber"] == receipt["blockNumber"]
                if same_block and bytes(again["blockHash"]) == block_hash:
                    return again
                receipt = again  # moved by a reorganisation: count again from its new block
                continue
            now = time.monotonic()
            if head != last_block:
                last_block, last_progress = head, now
            elif now - last_progress > stall_after:
                raise ChainStalled(
                    f"ブロックが{stall_after:.0f}秒間生成されていません / no block sealed for "
                    f"{stall_after:.0f} s at height {head} while waiting for {needed} "
                    "confirmations"
                )
            if now > deadline:
                raise ChainError(
                    f"transaction 0x{tx_hash.hex()} not final ({needed} confirmations) within "
                    f"{timeout:.0f} s"
                )
            time.sleep(0.05 if self.embedded else 0.2)

    def fund(self, addresses: Sequence[str], wei: int) -> None:
        """Embedded chain only: give accounts ether from the tester's unlocked account."""
        if not self.embedded:
            raise ChainError("only the embedded chain has an unlocked faucet account")

        def go(w3: Web3) -> None:
            faucet = w3.eth.accounts[0]
            for address in addresses:
                tx = w3.eth.send_transaction({"from": faucet, "to": address, "value": Wei(wei)})
                w3.eth.wait_for_transaction_receipt(tx)

        self.call(go)


# What nodes answer when they already hold a transaction (geth, Besu, Nethermind, py-evm).
_ALREADY_KNOWN = ("already known", "known transaction", "transaction_already_known", "alreadyknown")


def rpc_error_message(exc: BaseException) -> str:
    """The node's error message from a web3 exception: web3 v7+ raises ``Web3RPCError`` with
    the JSON-RPC response attached; older code paths raise ``ValueError`` with a dict."""
    if isinstance(exc, Web3RPCError) and exc.rpc_response is not None:
        error = exc.rpc_response.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
    if exc.args and isinstance(exc.args[0], dict):
        message = exc.args[0].get("message")
        if isinstance(message, str):
            return message
    return str(exc)


def _raw_request(w3: Web3, method: str, params: list[Any]) -> Any:
    reply = w3.provider.make_request(RPCEndpoint(method), params)
    if reply.get("error") is not None:
        raise Web3RPCError(str(reply["error"]), rpc_response=reply)
    return reply.get("result")


def _transaction_known(w3: Web3, tx_hash: bytes) -> bool:
    try:
        w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
    except TransactionNotFound:
        return False
    return True


def _canonical(w3: Web3, block_hash: bytes) -> bool:
    """Whether a block is on the node's canonical chain (a node may still serve an orphaned
    block by its hash: compare with the block at that height)."""
    try:
        number = int(w3.eth.get_block(block_hash)["number"])  # type: ignore[arg-type]
        return bytes(w3.eth.get_block(number)["hash"]) == block_hash
    except BlockNotFound:
        return False


def _receipt_or_none(w3: Web3, tx_hash: bytes) -> Any:
    try:
        return w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    except TransactionNotFound:
        return None


class Sender:
    """Signs transactions locally for one account and tracks its nonce (thread-safe), so the
    signed bytes can be kept (the kiosk's outbox) and re-broadcast to any node."""

    def __init__(self, chain: Chain, account: LocalAccount) -> None:
        self.chain = chain
        self.account = account
        self._lock = threading.Lock()
        self._nonce: int | None = None
        self._price: tuple[int, float] | None = None

    @classmethod
    def from_key(cls, chain: Chain, key: bytes | str) -> Sender:
        return cls(chain, Account.from_key(key))

    @property
    def address(self) -> str:
        return str(self.account.address)

    def sign(self, tx: dict[str, Any]) -> tuple[bytes, bytes]:
        """Fill nonce, chain id and fees; return (raw signed transaction, its hash)."""
        with self._lock:
            if self._nonce is None:
                self._nonce = self.chain.call(
                    lambda w3: int(w3.eth.get_transaction_count(self.account.address, "pending"))
                )
            nonce = self._nonce
            self._nonce += 1
        full = {**tx, "nonce": nonce, "chainId": self.chain.chain_id, "gasPrice": self._gas_price()}
        full.setdefault("value", 0)
        signed = self.account.sign_transaction(full)
        return bytes(signed.raw_transaction), bytes(signed.hash)

    def _gas_price(self) -> int:
        # A proof-of-authority chain's price barely moves; ask at most every 10 seconds, with
        # 25 % headroom over the base fee.
        now = time.monotonic()
        if self._price is None or now - self._price[1] > 10:
            price = self.chain.call(lambda w3: int(w3.eth.gas_price))
            self._price = (price + price // 4, now)
        return self._price[0]

    def reset_nonce(self) -> None:
        with self._lock:
            self._nonce = None
