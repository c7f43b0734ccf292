"""The durable outbox: a signed cast transaction is on disk before it is on the wire.

One JSON file per token, ``<token address hex>.json``::

    {"format": "ippyo-outbox/1", "token": "<40 hex>", "ballot_hash": "<64 hex>",
     "tx_hash": "<64 hex>", "raw": "<signed transaction hex>"}

It holds the token (an anonymous address) and the signed transaction — whose payload is the
token, its registrar signature, the encrypted ballot and the token key's binding signature —
and nothing about the voter.

Guarantees:

* :meth:`Outbox.put` writes a temporary file, fsyncs it, renames it into place and fsyncs the
  directory: once it returns, a power cut cannot lose the entry;
* a token has at most one entry, and a second, *different* ballot for a token the outbox holds
  is refused (:class:`OutboxConflict`); the same ballot again returns the stored entry
  unchanged, so a retry re-sends the very same signed bytes (same nonce, same hash);
* :meth:`Outbox.settle` re-broadcasts every entry not yet mined (through the chain client's
  failover) and deletes an entry only once its block has the configured confirmations.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from web3 import Web3

from contracts.chain import Chain

FORMAT = "ippyo-outbox/1"


class OutboxError(Exception):
    pass


class OutboxConflict(OutboxError):
    """A different ballot for a token whose ballot is already waiting in the outbox."""

    def __init__(self, token: bytes) -> None:
        super().__init__(
            "この投票トークンの票は送信待ちです / a ballot for this token is already waiting "
            f"to be sent (token 0x{token.hex()})"
        )
        self.token = token


class CorruptEntry(OutboxError):
    pass


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    token: bytes
    ballot_hash: bytes
    tx_hash: bytes
    raw: bytes

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "token": self.token.hex(),
                "ballot_hash": self.ballot_hash.hex(),
                "tx_hash": self.tx_hash.hex(),
                "raw": self.raw.hex(),
            },
            sort_keys=True,
        )

    @staticmethod
    def from_json(text: str) -> OutboxEntry:
        try:
            data = json.loads(text)
            if data.get("format") != FORMAT:
                raise CorruptEntry(f"unknown outbox format {data.get('format')!r}")
            entry = OutboxEntry(
                bytes.fromhex(data["token"]),
                bytes.fromhex(data["ballot_hash"]),
                bytes.fromhex(data["tx_hash"]),
                bytes.fromhex(data["raw"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CorruptEntry(f"unreadable outbox entry: {exc}") from exc
        if len(entry.token) != 20 or len(entry.ballot_hash) != 32 or len(entry.tx_hash) != 32:
            raise CorruptEntry("outbox entry fields have the wrong length")
        return entry


@dataclass(frozen=True, slots=True)
class Settled:
    """What :meth:`Outbox.settle` did with one entry."""

    entry: OutboxEntry
    outcome: str
    """``confirmed`` (removed), ``waiting`` (mined, too few confirmations), ``sent``
    (re-broadcast), or ``reverted`` (moved to ``failed/`` for the operator)."""
    block_number: int | None = None


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Outbox:
    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        for stale in self.directory.glob(".*.tmp"):  # a write cut short: never renamed
            stale.unlink()

    def _path(self, token: bytes) -> Path:
        return self.directory / f"{token.hex()}.json"

    def get(self, token: bytes) -> OutboxEntry | None:
        path = self._path(token)
        if not path.exists():
            return None
        return OutboxEntry.from_json(path.read_text("ascii"))

    def entries(self) -> list[OutboxEntry]:
        return [
            OutboxEntry.from_json(p.read_text("ascii"))
            for p in sorted(self.directory.glob("*.json"))
        ]

    @property
    def depth(self) -> int:
        return sum(1 for _ in self.directory.glob("*.json"))

    def put(self, entry: OutboxEntry) -> OutboxEntry:
        """Store durably; returns the entry that is in the outbox (the earlier one on a retry)."""
        existing = self.get(entry.token)
        if existing is not None:
            if existing.ballot_hash != entry.ballot_hash:
                raise OutboxConflict(entry.token)
            return existing
        path = self._path(entry.token)
        tmp = self.directory / f".{path.name}.tmp"
        with open(tmp, "w", encoding="ascii") as f:
            f.write(entry.to_json())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(self.directory)
        return entry

    def remove(self, token: bytes) -> None:
        self._path(token).unlink(missing_ok=True)
        _fsync_dir(self.directory)

    def _move_to_failed(self, entry: OutboxEntry) -> None:
        failed = self.directory / "failed"
        failed.mkdir(exist_ok=True)
        os.replace(self._path(entry.token), failed / self._path(entry.token).name)
        _fsync_dir(failed)
        _fsync_dir(self.directory)

    def settle(self, chain: Chain, confirmations: int) -> list[Settled]:
        """One pass over the outbox: re-broadcast what is not mined, remove what is confirmed.
        Called at start (before the kiosk signs anything new, so nonces do not collide) and
        periodically."""
        if confirmations < 1:
            raise ValueError("confirmations counts the including block: at least 1")
        head = chain.call(lambda w3: int(w3.eth.block_number))
        out: list[Settled] = []
        for entry in self.entries():
            receipt = chain.call(partial(_receipt_or_none, tx_hash=entry.tx_hash))
            if receipt is None:
                chain.send_raw(entry.raw)
                out.append(Settled(entry, "sent"))
                continue
            block = int(receipt["blockNumber"])
            if int(receipt["status"]) != 1:
                self._move_to_failed(entry)
                out.append(Settled(entry, "reverted", block))
            elif head - block + 1 >= confirmations:
                self.remove(entry.token)
                out.append(Settled(entry, "confirmed", block))
            else:
                out.append(Settled(entry, "waiting", block))
        return out


def _receipt_or_none(w3: Web3, tx_hash: bytes) -> Any:
    try:
        return w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    except Exception as exc:
        if type(exc).__name__ == "TransactionNotFound":
            return None
        raise
