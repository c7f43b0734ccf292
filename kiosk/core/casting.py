"""Casting and checking a ballot on the BallotBox, with the outbox between signing and sending.

``BallotBox.submit_ballot`` signs and broadcasts in one step; the kiosk needs the signed bytes
on disk first, so it builds the same ``castBallot`` call here, simulates it (a refusal —
spent token, wrong phase — is reported before anything is signed), signs it, writes it to the
outbox, and only then broadcasts.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from web3 import Web3

from contracts.chain import Sender
from contracts.client import EMBEDDED_GAS_LIMIT, BallotBox, Pending, artifact, decode_revert
from election import token as tokens
from election.ballot import EncryptedBallot, tracking_code
from kiosk.core.outbox import Outbox, OutboxConflict, OutboxEntry
from kiosk.core.tokenflow import IssuedToken


class CastRefused(Exception):
    """The contract would refuse this cast (named by the contract's custom error if known)."""

    def __init__(self, name: str, detail: str = "") -> None:
        super().__init__(f"{name}: {detail}" if detail else name)
        self.name = name


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the voter takes home. No identity, no nonce."""

    tracking_code: str
    ballot_hash: bytes
    tx_hash: bytes
    block_number: int
    confirmations: int


def sign_cast(
    box: BallotBox, sender: Sender, token: IssuedToken, ballot: EncryptedBallot
) -> OutboxEntry:
    """Simulate and sign the cast transaction for ``ballot``; nothing is broadcast."""
    data = ballot.to_bytes()
    ballot_hash = ballot.ballot_hash
    binding = tokens.sign_binding(
        token.key, box.chain.chain_id, bytes.fromhex(box.address[2:]), ballot_hash
    )
    abi = artifact()["abi"]

    def build(w3: Web3) -> tuple[bytes, int]:
        fn = w3.eth.contract(address=Web3.to_checksum_address(box.address), abi=abi).functions
        call = fn.castBallot(
            Web3.to_checksum_address(token.address), token.signature, data, binding
        )
        if box.chain.embedded:
            call.call({"from": sender.address})
            gas = EMBEDDED_GAS_LIMIT
        else:
            gas = int(call.estimate_gas({"from": sender.address}))
            gas += gas // 5
        return bytes.fromhex(call._encode_transaction_data()[2:]), gas

    try:
        payload, gas = box.chain.call(build)
    except Exception as exc:
        raise _refusal(exc) from exc
    raw, tx_hash = sender.sign({"to": box.address, "data": payload, "gas": gas})
    return OutboxEntry(token.address, ballot_hash, tx_hash, raw)


def _refusal(exc: Exception) -> Exception:
    revert = decode_revert(getattr(exc, "data", None))
    if revert is not None:
        return CastRefused(revert.name)
    if type(exc).__name__ in ("TransactionFailed", "ContractLogicError", "ContractCustomError"):
        return CastRefused("contract_refused", str(exc)[:200])
    return exc


def cast(
    box: BallotBox,
    sender: Sender,
    outbox: Outbox,
    token: IssuedToken,
    ballot: EncryptedBallot,
    *,
    confirmations: int,
    timeout: float = 60.0,
) -> Receipt:
    """Sign → outbox (fsynced) → broadcast → wait for the receipt and the confirmations →
    remove from the outbox. A crash anywhere after the outbox write loses nothing: the next
    start re-broadcasts (:meth:`Outbox.settle`)."""
    existing = outbox.get(token.address)
    if existing is None:
        entry = outbox.put(sign_cast(box, sender, token, ballot))
    elif existing.ballot_hash == ballot.ballot_hash:
        entry = existing  # a retry: the very same signed bytes, same nonce
    else:
        # Refused before signing, so no nonce is used up by a transaction never sent.
        raise OutboxConflict(token.address)
    box.chain.send_raw(entry.raw)
    receipt = box.cast_receipt(Pending(entry.tx_hash, entry.raw), timeout=timeout)
    wait_for_confirmations(box, receipt.block_number, confirmations, timeout)
    outbox.remove(entry.token)
    return Receipt(
        tracking_code(entry.ballot_hash),
        entry.ballot_hash,
        entry.tx_hash,
        receipt.block_number,
        confirmations,
    )


def wait_for_confirmations(box: BallotBox, block: int, confirmations: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while box.chain.call(lambda w3: int(w3.eth.block_number)) - block + 1 < confirmations:
        if time.monotonic() > deadline:
            raise TimeoutError(f"fewer than {confirmations} confirmations after {timeout:.0f} s")
        time.sleep(0.05 if box.chain.embedded else 0.5)


@dataclass(frozen=True, slots=True)
class CheckedBallot:
    """A challenged (Benaloh) ballot, published with its master nonce: anyone can decrypt it."""

    tracking_code: str
    ballot: bytes
    master_nonce: bytes
    block_number: int


def check(
    box: BallotBox, sender: Sender, ballot: EncryptedBallot, nonce: bytes, token: bytes
) -> CheckedBallot:
    """Publish a ballot the voter chose to check, with its nonce, naming the voter's token:
    it is never counted, and the contract refuses it from that token for ever."""
    block = box.challenge_ballot(sender, ballot.to_bytes(), nonce, token=token)
    return CheckedBallot(ballot.tracking_code, ballot.to_bytes(), nonce, block)


def new_master_nonce() -> bytes:
    return secrets.token_bytes(32)
