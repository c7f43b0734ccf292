"""Live services for the tally server's tests and benchmarks (not a conftest: importable).

* :func:`postgres_server` — a real PostgreSQL on a free loopback port, run as the ``postgres``
  user (it refuses root), stopped by pid;
* :func:`free_port`.
"""

from __future__ import annotations

import ast
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils.address import to_checksum_address
from web3 import EthereumTesterProvider, Web3
from web3.exceptions import BlockNotFound
from web3.types import Wei
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from contracts.chain import Chain, Sender
from contracts.client import BallotBox, predict_address
from election import token as tokens
from election.ballot import PlaintextBallot, encrypt_ballot, tracking_code
from election.context import ElectionContext
from election.keyceremony import run_ceremony
from election.manifest import Manifest, manifest_from_dict
from election.primitives import blind_rsa
from election.primitives.hashing import sha256
from tally_server.election_setup import ElectionSetup


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yield an SQLAlchemy URL of a fresh PostgreSQL server; stop it (by pid) afterwards."""
    bindirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not bindirs:
        raise RuntimeError("PostgreSQL is not installed: scripts/setup.sh installs it")
    bin_ = bindirs[-1]
    data = Path(tempfile.mkdtemp(prefix="ippyo-tally-pg-"))
    as_postgres = os.geteuid() == 0
    run = ["runuser", "-u", "postgres", "--"] if as_postgres else []
    if as_postgres:
        shutil.chown(data, "postgres", "postgres")
    port = free_port()
    subprocess.run(
        [*run, str(bin_ / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    proc = subprocess.Popen(
        [
            *run,
            str(bin_ / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={data}",
            "-c",
            "fsync=off",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while (
            subprocess.run(
                [str(bin_ / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                capture_output=True,
            ).returncode
            != 0
        ):
            if proc.poll() is not None:
                raise RuntimeError("postgres exited at start")
            if time.monotonic() > deadline:
                raise RuntimeError("postgres did not start within 30 s")
            time.sleep(0.2)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)


# --- the embedded chain over HTTP -------------------------------------------------------------
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


# --- a real election on a chain ---------------------------------------------------------------
def demo_manifest() -> Manifest:
    """The demo's manifest: a 1-of-5 mayor contest and a choose-up-to-3-of-13 projects contest."""
    text = resources.files("ippyo").joinpath("data/demo-manifest.json").read_text("utf-8")
    return manifest_from_dict(json.loads(text))


@dataclass
class CastInfo:
    seq: int
    ballot_hash: bytes
    tracking_code: str
    token: bytes
    block_number: int
    choices: PlaintextBallot | None
    """What the voter chose; ``None`` for a ballot that does not count."""


class ElectionKit:
    """An election on a chain, as the kiosks and the registrar would make it: the key ceremony,
    a registrar key, the BallotBox deployed and opened, real tokens and encrypted ballots."""

    def __init__(
        self,
        chain: Chain,
        registrar: blind_rsa.RSAPrivateKey,
        *,
        trustees: int = 3,
        quorum: int = 2,
        revote: bool = False,
        manifest: Manifest | None = None,
        rng: random.Random | None = None,
        admin: Sender | None = None,
        kiosk: Sender | None = None,
    ) -> None:
        """``admin`` and ``kiosk``: funded accounts (real nodes); by default new accounts
        funded from the embedded chain's unlocked faucet."""
        self.chain = chain
        self.registrar = registrar
        self.manifest = manifest or demo_manifest()
        self.rng = rng or random.Random(2018)
        people, announcements, shares, complaints, ceremony = run_ceremony(
            self.manifest.election_id, trustees, quorum
        )
        self.trustees = people
        if admin is None or kiosk is None:
            admin, kiosk = Sender(chain, Account.create()), Sender(chain, Account.create())
            self._fund([admin.address, kiosk.address])
        self.admin, self.kiosk = admin, kiosk
        nonce = chain.call(
            lambda w3: w3.eth.get_transaction_count(to_checksum_address(self.admin.address))
        )
        self.context = ElectionContext(
            self.manifest,
            trustees,
            quorum,
            ceremony.joint_public_key,
            registrar.public_key,
            chain.chain_id,
            predict_address(self.admin.address, nonce),
            revote,
        )
        self.box = BallotBox.deploy(
            self.admin,
            election_id=self.context.election_id,
            base_hash=self.context.base_hash,
            registrar_modulus=registrar.public_key.modulus_bytes(),
            registrar_exponent=registrar.public_key.exponent_bytes(),
            revote_allowed=revote,
            kiosks=[self.kiosk.address],
        )
        self.first_block = self.block_number()
        self.setup = ElectionSetup(
            self.context,
            self.first_block,
            tuple(announcements),
            tuple(shares),
            tuple(complaints),
        )
        self.box.open(self.admin)

    def _fund(self, addresses: list[str]) -> None:
        def go(w3: Web3) -> None:
            faucet = w3.eth.accounts[0]
            for address in addresses:
                tx = w3.eth.send_transaction(
                    {"from": faucet, "to": to_checksum_address(address), "value": Wei(10**21)}
                )
                w3.eth.wait_for_transaction_receipt(tx)

        self.chain.call(go)

    def block_number(self) -> int:
        return self.chain.call(lambda w3: int(w3.eth.block_number))

    def write_setup(self, path: Path) -> Path:
        path.write_bytes(self.setup.to_json())
        return path

    def token(self) -> tuple[tokens.TokenKey, bytes]:
        pk = self.registrar.public_key
        eid = self.context.election_id
        token, blinding = tokens.blind_token(pk, eid, self.rng.randbytes(256))
        blind_sig = blind_rsa.blind_sign(self.registrar, blinding.blinded_msg)
        return token, tokens.finalize_token(pk, eid, token, blind_sig, blinding)

    def random_choices(self) -> PlaintextBallot:
        """A random valid choice in every contest (between its minimum and maximum)."""
        choices = {
            c.id: self.rng.sample(
                [o.id for o in c.options], self.rng.randint(c.min_selections, c.max_selections)
            )
            for c in self.manifest.contests
        }
        return PlaintextBallot.from_choices(self.manifest, choices)

    def encrypt(self, plain: PlaintextBallot | None = None) -> tuple[bytes, PlaintextBallot]:
        plain = plain or self.random_choices()
        ballot = encrypt_ballot(self.context, plain, self.rng.randbytes(32))
        return ballot.to_bytes(), plain

    def cast(
        self,
        plain: PlaintextBallot | None = None,
        *,
        corrupt: bool = False,
        token: tuple[tokens.TokenKey, bytes] | None = None,
    ) -> CastInfo:
        """Cast one ballot; ``corrupt`` flips a proof byte after encryption (a broken kiosk:
        the contract accepts it, the tally must exclude it as ``bad_proof``)."""
        data, plain = self.encrypt(plain)
        if corrupt:
            raw = bytearray(data)
            raw[36 + 66 + 5] ^= 1
            data = bytes(raw)
        key, signature = token or self.token()
        ballot_hash = sha256(data)
        binding = tokens.sign_binding(
            key, self.context.chain_id, self.context.contract_address, ballot_hash
        )
        receipt = self.box.cast_ballot(self.kiosk, key.address, signature, data, binding)
        return CastInfo(
            receipt.seq,
            ballot_hash,
            tracking_code(ballot_hash),
            key.address,
            receipt.block_number,
            None if corrupt else plain,
        )

    def challenge(self, plain: PlaintextBallot | None = None) -> tuple[str, PlaintextBallot]:
        """A voter checks a ballot: published with its master nonce."""
        plain = plain or self.random_choices()
        master = self.rng.randbytes(32)
        ballot = encrypt_ballot(self.context, plain, master)
        self.box.challenge_ballot(self.kiosk, ballot.to_bytes(), master)
        return ballot.tracking_code, plain

    def mine(self, blocks: int) -> None:
        """New blocks without ballots (eth-tester seals one per transaction)."""

        def go(w3: Web3) -> None:
            faucet = w3.eth.accounts[0]
            for _ in range(blocks):
                tx = w3.eth.send_transaction({"from": faucet, "to": faucet, "value": Wei(1)})
                w3.eth.wait_for_transaction_receipt(tx)

        self.chain.call(go)


# --- the app on a real server -------------------------------------------------------------------
@contextmanager
def live_server(app: Any, config: Any) -> Iterator[str]:
    """The app under cheroot (as ``ippyo tally serve`` runs it) on a free loopback port."""
    from tally_server.server import make_server

    server = make_server(app, config, "127.0.0.1", free_port())
    server.prepare()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.bind_addr[1]}"
    finally:
        server.stop()
        thread.join(timeout=10)
