"""Typed Python client of the BallotBox contract.

Works the same on the embedded chain (eth-tester) and on a network of geth nodes
(:class:`~contracts.chain.Chain`). Every transaction is simulated first, so a refusal comes
back as a :class:`ContractRevert` naming the contract's custom error (``TokenAlreadyUsed``,
``InvalidRegistrarSignature``...) with a Japanese and English explanation, and nothing is
broadcast.
"""

from __future__ import annotations

import ast
import enum
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import rlp
from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_typing import HexStr
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError

from contracts.chain import Chain, ChainError, Sender, rpc_error_message
from election.validity import CastBallot

T = TypeVar("T")
ARTIFACT = Path(__file__).resolve().parent / "build" / "BallotBox.json"
EMBEDDED_GAS_LIMIT = 3_000_000


class Phase(enum.IntEnum):
    SETUP = 0
    OPEN = 1
    CLOSED = 2
    TALLIED = 3


# Japanese first, English second: these reach the kiosk's help-desk screen and the dashboard.
REVERT_MESSAGES: dict[str, tuple[str, str]] = {
    "NotAdmin": ("選挙管理者のみ実行できます", "only the election admin may do this"),
    "NotKiosk": ("登録された投票端末のみ実行できます", "only a registered kiosk may do this"),
    "WrongPhase": (
        "現在の選挙の段階では実行できません",
        "not allowed in the election's current phase",
    ),
    "EmptyBallot": ("票が空です", "the ballot is empty"),
    "InvalidBindingSignature": (
        "投票トークンの署名がこの票と一致しません",
        "the token key's signature does not match this ballot, chain and contract",
    ),
    "InvalidRegistrarSignature": (
        "投票トークンに選挙人名簿管理者の有効な署名がありません",
        "the token does not carry a valid registrar signature",
    ),
    "TokenAlreadyUsed": (
        "この投票トークンは使用済みです",
        "this ballot token has already been used",
    ),
    "BallotAlreadyCast": ("この票はすでに投じられています", "this exact ballot was already cast"),
    "InvalidConfiguration": ("コントラクトの設定が不正です", "invalid contract configuration"),
    "RegistrarExponentNot65537": (
        "選挙人名簿管理者の公開指数は65537でなければなりません",
        "the registrar key's public exponent must be 65537",
    ),
    "RegistrarKeySize": (
        "選挙人名簿管理者の鍵長は2048〜4096ビットでなければなりません",
        "the registrar key must have 2048 to 4096 bits",
    ),
    "BallotWasChallenged": (
        "この票は検証用に開示済みのため投じられません",
        "this ballot was opened for checking (challenged) and can never be cast",
    ),
}


class ContractRevert(ChainError):
    """The contract refused; ``name`` is its custom error, ``args`` the decoded arguments."""

    def __init__(self, name: str, args: tuple[Any, ...] = ()) -> None:
        ja, en = REVERT_MESSAGES.get(name, ("コントラクトが拒否しました", "the contract refused"))
        detail = f" {args}" if args else ""
        super().__init__(f"{name}: {ja} / {en}{detail}")
        self.name = name
        self.args_decoded = args
        self.message_ja = ja
        self.message_en = en


@cache
def artifact() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ARTIFACT.read_text())
    return data


@cache
def _error_selectors() -> dict[bytes, tuple[str, list[str]]]:
    out = {}
    for item in artifact()["abi"]:
        if item["type"] == "error":
            types = [i["type"] for i in item["inputs"]]
            selector = keccak(text=f"{item['name']}({','.join(types)})")[:4]
            out[selector] = (item["name"], types)
    return out


def decode_revert(data: str | bytes | None) -> ContractRevert | None:
    """A :class:`ContractRevert` from revert data (``0x`` + selector + arguments), if known."""
    if isinstance(data, dict):  # some providers wrap it
        data = data.get("data")
    if data is None:
        return None
    raw = (
        bytes.fromhex(data[2:] if data.startswith("0x") else data)
        if isinstance(data, str)
        else data
    )
    entry = _error_selectors().get(raw[:4])
    if entry is None:
        return None
    name, types = entry
    args = tuple(abi_decode(types, raw[4:])) if types else ()
    if name == "WrongPhase":
        args = tuple(Phase(a).name.lower() for a in args)
    return ContractRevert(name, args)


def _as_revert(exc: Exception) -> Exception:
    if type(exc).__name__ == "TransactionFailed":
        # eth-tester (through web3's provider) passes the revert data as a bytes literal in the
        # message: "execution reverted: b'\\x05\\xfb…'".
        _, _, literal = str(exc).partition("execution reverted: ")
        if literal.startswith(("b'", 'b"')):
            decoded = decode_revert(ast.literal_eval(literal))
            if decoded is not None:
                return decoded
        # For an error whose only argument is a string, the provider decodes that string and
        # drops the selector; the contract has one such error.
        string_errors = [name for name, types in _error_selectors().values() if types == ["string"]]
        if literal and len(string_errors) == 1:
            return ContractRevert(string_errors[0], (literal,))
    if isinstance(exc, ContractCustomError):
        decoded = decode_revert(exc.data)  # type: ignore[arg-type]
        if decoded is not None:
            return decoded
    if isinstance(exc, ContractLogicError):
        decoded = decode_revert(getattr(exc, "data", None))
        if decoded is not None:
            return decoded
    return exc


def _simulate(chain: Chain, build: Callable[[Web3], T]) -> T:
    """Run a transaction's simulation; a contract refusal becomes a named ContractRevert."""
    try:
        return chain.call(build)
    except Exception as exc:
        revert = _as_revert(exc)
        if revert is exc:
            raise
        raise revert from exc


def predict_address(deployer: str, nonce: int) -> bytes:
    """The address a contract created by ``deployer`` at ``nonce`` will get (CREATE)."""
    return keccak(rlp.encode([bytes.fromhex(deployer[2:]), nonce]))[12:]


@dataclass(frozen=True)
class CastReceipt:
    tx_hash: bytes
    block_number: int
    seq: int
    ballot_hash: bytes
    gas_used: int
    block_hash: bytes = b""


@dataclass(frozen=True)
class ChallengedOnChain:
    seq: int
    kiosk: str
    ballot_hash: bytes
    ballot: bytes
    master_nonce: bytes
    block_number: int


@dataclass(frozen=True)
class PublishedResult:
    result_hash: bytes
    transcript_hash: bytes
    result: bytes
    block_number: int


@dataclass(frozen=True)
class Pending:
    tx_hash: bytes
    raw: bytes


class BallotBox:
    """One deployed BallotBox on a :class:`Chain`."""

    def __init__(self, chain: Chain, address: bytes | str) -> None:
        self.chain = chain
        self.address = to_checksum_address(address)
        self._abi = artifact()["abi"]
        self._contracts: dict[int, Any] = {}

    def _contract(self, w3: Web3) -> Any:
        # Building a contract object parses the ABI: keep one per endpoint.
        contract = self._contracts.get(id(w3))
        if contract is None:
            contract = self._contracts[id(w3)] = w3.eth.contract(
                address=self.address, abi=self._abi
            )
        return contract

    # --- deployment ---------------------------------------------------------------------------
    @classmethod
    def deploy(
        cls,
        sender: Sender,
        *,
        election_id: bytes,
        base_hash: bytes,
        registrar_modulus: bytes,
        registrar_exponent: bytes,
        revote_allowed: bool,
        kiosks: Sequence[str],
        timeout: float = 60.0,
    ) -> BallotBox:
        art = artifact()

        def build(w3: Web3) -> tuple[str, int]:
            factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
            data: str = factory.constructor(
                election_id,
                base_hash,
                registrar_modulus,
                registrar_exponent,
                revote_allowed,
                [to_checksum_address(k) for k in kiosks],
            ).data_in_transaction
            return data, int(w3.eth.estimate_gas({"from": sender.address, "data": HexStr(data)}))

        data, gas = _simulate(sender.chain, build)
        raw, tx_hash = sender.sign({"data": data, "gas": gas + gas // 5})
        sender.chain.send_raw(raw)
        receipt = sender.chain.wait_for_receipt(tx_hash, timeout=timeout, rebroadcast=raw)
        if receipt["status"] != 1:
            raise ChainError("deployment failed")
        return cls(sender.chain, receipt["contractAddress"])

    # --- reads ----------------------------------------------------------------------------------
    def _read(self, name: str, *args: Any) -> Any:
        return self.chain.call(lambda w3: getattr(self._contract(w3).functions, name)(*args).call())

    def phase(self) -> Phase:
        return Phase(self._read("phase"))

    def ballot_count(self) -> int:
        return int(self._read("ballotCount"))

    def challenged_count(self) -> int:
        """How many checked (challenged) ballots the contract holds: their seq are 0..n−1."""
        return int(self._read("challengedCount"))

    def election_id(self) -> bytes:
        return bytes(self._read("electionId"))

    def base_hash(self) -> bytes:
        return bytes(self._read("baseHash"))

    def revote_allowed(self) -> bool:
        return bool(self._read("revoteAllowed"))

    def registrar_key(self) -> tuple[bytes, bytes]:
        return bytes(self._read("registrarModulus")), bytes(self._read("registrarExponent"))

    def kiosks(self) -> list[str]:
        return [str(k) for k in self._read("kiosks")]

    def ballot_of(self, token: bytes) -> bytes | None:
        """The hash of the token's counted ballot, or None while it has none (the contract
        marks a token named in a challenge before it cast with the value 1)."""
        value = bytes(self._read("ballotOf", to_checksum_address(token)))
        return None if int.from_bytes(value, "big") <= 1 else value

    def verify_registrar_signature(self, token: bytes, signature: bytes) -> bool:
        return bool(self._read("verifyRegistrarSignature", to_checksum_address(token), signature))

    def verify_binding(self, token: bytes, ballot_hash: bytes, signature: bytes) -> bool:
        return bool(self._read("verifyBinding", to_checksum_address(token), ballot_hash, signature))

    # --- transactions ---------------------------------------------------------------------------
    def _transact(self, sender: Sender, name: str, *args: Any) -> Pending:
        def build(w3: Web3) -> tuple[bytes, int]:
            fn = getattr(self._contract(w3).functions, name)(*args)
            if self.chain.embedded:
                # eth-tester estimates gas by bisection (a dozen EVM runs in Python): one
                # simulated call gives the same revert reasons, and a fixed limit is harmless.
                fn.call({"from": sender.address})
                gas = EMBEDDED_GAS_LIMIT
            else:
                gas = int(fn.estimate_gas({"from": sender.address}))  # simulates: reverts surface
                gas += gas // 5
            return bytes.fromhex(fn._encode_transaction_data()[2:]), gas

        data, gas = _simulate(self.chain, build)
        return self._sign_and_send(sender, data, gas)

    def _sign_and_send(self, sender: Sender, data: bytes, gas: int) -> Pending:
        raw, tx_hash = sender.sign({"to": self.address, "data": data, "gas": gas})
        self.chain.send_raw(raw)
        return Pending(tx_hash, raw)

    def wait(self, pending: Pending, *, timeout: float = 60.0) -> Any:
        receipt = self.chain.wait_for_receipt(
            pending.tx_hash, timeout=timeout, rebroadcast=pending.raw
        )
        if receipt["status"] != 1:
            raise ChainError(f"transaction 0x{pending.tx_hash.hex()} reverted on chain")
        return receipt

    def open(self, admin: Sender) -> None:
        self.wait(self._transact(admin, "open"))

    def close(self, admin: Sender) -> None:
        self.wait(self._transact(admin, "close"))

    def publish_result(self, admin: Sender, result: bytes, transcript_hash: bytes) -> None:
        self.wait(self._transact(admin, "publishResult", result, transcript_hash))

    def submit_ballot(
        self,
        sender: Sender,
        token: bytes,
        registrar_signature: bytes,
        ballot: bytes,
        binding_signature: bytes,
    ) -> Pending:
        """Simulate, sign and broadcast a cast; returns before it is sealed.

        The kiosk's hot path: the calldata is ABI-encoded directly, and the cast is simulated
        once with ``eth_call`` (named refusals before anything is broadcast) at a gas limit of
        its calldata cost plus a fixed margin, instead of ``eth_estimateGas``'s bisection (a
        dozen EVM runs on the node)."""
        data = _CAST_SELECTOR + abi_encode(
            ["address", "bytes", "bytes", "bytes"],
            [to_checksum_address(token), registrar_signature, ballot, binding_signature],
        )
        gas = _cast_gas_limit(data)
        call = {"from": sender.address, "to": self.address, "data": "0x" + data.hex()}
        if self.chain.embedded:
            _simulate(self.chain, lambda w3: w3.eth.call({**call, "gas": gas}))  # type: ignore[typeddict-item]
        else:
            try:
                self.chain.raw_request("eth_call", [{**call, "gas": hex(gas)}, "latest"])
            except Web3RPCError as exc:
                error = (exc.rpc_response or {}).get("error")
                revert = decode_revert(error.get("data") if isinstance(error, dict) else None)
                if revert is not None:
                    raise revert from exc
                raise ChainError(f"the cast was refused: {rpc_error_message(exc)}") from exc
        return self._sign_and_send(sender, data, gas)

    def cast_ballot(
        self,
        sender: Sender,
        token: bytes,
        registrar_signature: bytes,
        ballot: bytes,
        binding_signature: bytes,
        *,
        timeout: float = 60.0,
    ) -> CastReceipt:
        pending = self.submit_ballot(sender, token, registrar_signature, ballot, binding_signature)
        return self.cast_receipt(pending, timeout=timeout)

    def cast_receipt(self, pending: Pending, *, timeout: float = 60.0) -> CastReceipt:
        return _cast_from_receipt(pending.tx_hash, self.wait(pending, timeout=timeout))

    def confirm(
        self, cast: CastReceipt, *, confirmations: int | None = None, timeout: float = 120.0
    ) -> CastReceipt:
        """Wait until a cast ballot is final: ``confirmations`` blocks on top of its block
        (default: the chain's configured number), its block hash re-checked; a ballot moved by
        a reorganisation comes back with its new block, one dropped raises
        :class:`~contracts.chain.ChainReorganized`."""
        receipt = self.chain.wait_final(
            cast.tx_hash,
            confirmations=confirmations,
            timeout=timeout,
            seen_in=cast.block_hash or None,
        )
        return _cast_from_receipt(cast.tx_hash, receipt)  # seq re-read: a reorg may move it

    def challenge_ballot(
        self, kiosk: Sender, ballot: bytes, master_nonce: bytes, token: bytes | None = None
    ) -> int:
        """Publish a checked ballot with its nonce; returns its block number.

        ``token`` is the voting session's token: the contract then refuses to publish that
        token's counted ballot (``BallotAlreadyCast``). Any ballot already checked or
        superseded is refused whatever the token (docs/chain.md, "One storage slot per
        token")."""
        named = to_checksum_address(token if token is not None else bytes(20))
        receipt = self.wait(self._transact(kiosk, "challengeBallot", named, ballot, master_nonce))
        return int(receipt["blockNumber"])

    # --- events ---------------------------------------------------------------------------------
    def _events(self, name: str, from_block: int, to_block: int | None, step: int) -> list[Any]:
        if to_block is None:
            to_block = self.chain.call(lambda w3: int(w3.eth.block_number))
        out: list[Any] = []
        # Narrow ranges: eth-tester's get_logs slows sharply with long ranges.
        for start in range(from_block, to_block + 1, step):
            end = min(start + step - 1, to_block)

            def logs(w3: Web3, s: int = start, e: int = end) -> list[Any]:
                event = getattr(self._contract(w3).events, name)
                return list(event().get_logs(from_block=s, to_block=e))

            out += self.chain.call(logs)
        return out

    def cast_ballots(
        self, from_block: int = 0, to_block: int | None = None, *, step: int = 500
    ) -> list[CastBallot]:
        """Every BallotCast event, as the core's :class:`CastBallot`, in seq order.

        The event carries (seq, token, ballot hash); the ballot and both signatures are read
        from the calldata of the transaction that emitted it, which any node serves, and
        checked against the event (same contract, castBallot, same token, sha256 = hash)."""
        events = self._events("BallotCast", from_block, to_block, step)
        ballots = [self._ballot_from_calldata(e) for e in events]
        return sorted(ballots, key=lambda b: b.seq)

    def _ballot_from_calldata(self, event: Any) -> CastBallot:
        tx_hash = bytes(event["transactionHash"])
        seq = int(event["args"]["seq"])
        token = bytes.fromhex(event["args"]["token"][2:])
        ballot_hash = bytes(event["args"]["ballotHash"])

        def read(w3: Web3) -> tuple[Any, dict[str, Any]]:
            tx = w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
            if tx.get("to") is None or to_checksum_address(str(tx["to"])) != self.address:
                return None, {}
            fn, args = self._contract(w3).decode_function_input(bytes(tx["input"]))
            return fn, args

        fn, args = self.chain.call(read)
        if fn is None or fn.fn_name != "castBallot":
            raise ChainError(
                f"票{seq}の内容をトランザクションから読めません / ballot {seq} (0x{tx_hash.hex()}) "
                "was not cast by a direct call to castBallot: its calldata does not carry it"
            )
        ballot = bytes(args["ballot"])
        if (
            hashlib.sha256(ballot).digest() != ballot_hash
            or bytes.fromhex(str(args["token"])[2:]) != token
        ):
            raise ChainError(
                f"票{seq}のトランザクションがイベントと一致しません / ballot {seq}: the "
                "transaction's calldata does not match its BallotCast event"
            )
        return CastBallot(
            seq,
            token,
            bytes(args["registrarSignature"]),
            bytes(args["bindingSignature"]),
            ballot,
        )

    def challenged_ballots(
        self, from_block: int = 0, to_block: int | None = None, *, step: int = 500
    ) -> list[ChallengedOnChain]:
        events = self._events("BallotChallenged", from_block, to_block, step)
        return sorted(
            (
                ChallengedOnChain(
                    int(e["args"]["seq"]),
                    str(e["args"]["kiosk"]),
                    bytes(e["args"]["ballotHash"]),
                    bytes(e["args"]["ballot"]),
                    bytes(e["args"]["masterNonce"]),
                    int(e["blockNumber"]),
                )
                for e in events
            ),
            key=lambda c: c.seq,
        )

    def result_hash(self) -> bytes | None:
        """SHA-256 of the published result bytes; None until a result is published."""
        value = bytes(self._read("resultHash"))
        return None if value == bytes(32) else value

    def transcript_hash(self) -> bytes | None:
        """The transcript hash given with the result; None until a result is published."""
        value = bytes(self._read("transcriptHash"))
        return None if value == bytes(32) else value

    def published_results(
        self, from_block: int = 0, to_block: int | None = None, *, step: int = 500
    ) -> list[PublishedResult]:
        """Every ResultPublished event (the contract allows one), in block order."""
        events = self._events("ResultPublished", from_block, to_block, step)
        return [
            PublishedResult(
                bytes(e["args"]["resultHash"]),
                bytes(e["args"]["transcriptHash"]),
                bytes(e["args"]["result"]),
                int(e["blockNumber"]),
            )
            for e in events
        ]

    def phase_changes(
        self, from_block: int = 0, to_block: int | None = None, *, step: int = 500
    ) -> list[tuple[Phase, int]]:
        """Every PhaseChanged event: (new phase, block number), in block order."""
        events = self._events("PhaseChanged", from_block, to_block, step)
        return [(Phase(int(e["args"]["phase"])), int(e["blockNumber"])) for e in events]

    def superseded(
        self, from_block: int = 0, to_block: int | None = None, *, step: int = 500
    ) -> list[tuple[bytes, bytes, bytes]]:
        events = self._events("BallotSuperseded", from_block, to_block, step)
        return [
            (
                bytes.fromhex(e["args"]["token"][2:]),
                bytes(e["args"]["oldBallotHash"]),
                bytes(e["args"]["newBallotHash"]),
            )
            for e in events
        ]


CAST_EXECUTION_MARGIN = 200_000  # measured execution ≤ 55k with a re-vote (docs/chain.md)


def _cast_gas_limit(data: bytes) -> int:
    zeros = data.count(0)
    return 21_000 + 4 * zeros + 16 * (len(data) - zeros) + CAST_EXECUTION_MARGIN


_CAST_SELECTOR = bytes(keccak(text="castBallot(address,bytes,bytes,bytes)"))[:4]
_BALLOT_CAST_TOPIC = bytes(keccak(text="BallotCast(uint256,address,bytes32)"))


def _cast_from_receipt(tx_hash: bytes, receipt: Any) -> CastReceipt:
    if receipt["status"] != 1:
        raise ChainError(f"transaction 0x{tx_hash.hex()} reverted on chain")
    for log in receipt["logs"]:
        if log["topics"] and bytes(log["topics"][0]) == _BALLOT_CAST_TOPIC:
            return CastReceipt(
                tx_hash,
                int(receipt["blockNumber"]),
                int.from_bytes(bytes(log["topics"][1]), "big"),
                bytes(log["topics"][3]),
                int(receipt["gasUsed"]),
                bytes(receipt["blockHash"]),
            )
    raise ChainError("the cast transaction emitted no BallotCast event")
