"""The outbox: durable before broadcast, re-broadcast after a crash, one ballot per token."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contracts.chain import Sender
from election.ballot import PlaintextBallot, encrypt_ballot
from kiosk.core.casting import new_master_nonce, sign_cast
from kiosk.core.outbox import CorruptEntry, Outbox, OutboxConflict, OutboxEntry
from kiosk.core.tokenflow import IssuedToken, obtain_token, pinned_key_of
from kiosk.testing import EmbeddedElection, LiveRegistrar, ReaderSlot, new_resident

PIN = "ABC123"


@pytest.fixture
def token(registrar: LiveRegistrar, election: EmbeddedElection, slot: ReaderSlot) -> IssuedToken:
    slot.insert(registrar.card(new_resident()))
    with slot.open() as card:
        card.verify_signature_pin(PIN)
        pinned = pinned_key_of(*election.box.registrar_key())
        first = obtain_token(card, registrar.client, election.context.election_id, pinned)
        # A kiosk restarted mid-issuance asks again: same blinded value, same token.
        again = obtain_token(card, registrar.client, election.context.election_id, pinned)
    assert again == first
    return first


def signed_ballot(election: EmbeddedElection, token: IssuedToken, choice: str) -> OutboxEntry:
    plain = PlaintextBallot.from_choices(election.context.manifest, {"mayor": [choice]})
    ballot = encrypt_ballot(election.context, plain, new_master_nonce())
    return sign_cast(election.box, election.kiosk, token, ballot)


def ballots_of(election: EmbeddedElection, token: IssuedToken) -> list[bytes]:
    return [c.ballot_hash for c in election.box.cast_ballots() if c.token == token.address]


def test_a_crash_after_the_outbox_write_loses_nothing_and_lands_once(
    election: EmbeddedElection, token: IssuedToken, tmp_path: Path
) -> None:
    outbox = Outbox(tmp_path / "outbox")
    entry = outbox.put(signed_ballot(election, token, "sato"))
    # The kiosk dies here, before broadcasting. Nothing reached the chain.
    assert ballots_of(election, token) == []
    del outbox
    restarted = Outbox(tmp_path / "outbox")  # a new process: the same directory
    assert restarted.entries() == [entry]
    first = restarted.settle(election.chain, confirmations=1)
    assert [s.outcome for s in first] == ["sent"]
    second = restarted.settle(election.chain, confirmations=1)
    assert [s.outcome for s in second] == ["confirmed"]
    assert restarted.depth == 0
    assert restarted.settle(election.chain, confirmations=1) == []
    assert ballots_of(election, token) == [entry.ballot_hash]
    # The restarted kiosk signs new transactions with fresh nonces after the re-broadcast.
    election.kiosk.reset_nonce()


def test_entries_wait_for_the_configured_confirmations(
    election: EmbeddedElection, token: IssuedToken, tmp_path: Path
) -> None:
    outbox = Outbox(tmp_path / "outbox")
    entry = outbox.put(signed_ballot(election, token, "suzuki"))
    election.chain.send_raw(entry.raw)
    assert [s.outcome for s in outbox.settle(election.chain, confirmations=3)] == ["waiting"]
    for _ in range(2):  # eth-tester seals a block per transaction
        election.chain.fund([election.admin.address], 1)
    assert [s.outcome for s in outbox.settle(election.chain, confirmations=3)] == ["confirmed"]
    assert ballots_of(election, token) == [entry.ballot_hash]


def test_one_token_one_ballot(
    election: EmbeddedElection, token: IssuedToken, tmp_path: Path
) -> None:
    outbox = Outbox(tmp_path / "outbox")
    entry = outbox.put(signed_ballot(election, token, "sato"))
    with pytest.raises(OutboxConflict):
        outbox.put(signed_ballot(election, token, "tanaka"))
    assert outbox.entries() == [entry]
    # A retry of the same ballot gets the stored, already signed bytes back (same nonce).
    same_ballot_resigned = OutboxEntry(entry.token, entry.ballot_hash, bytes(32), b"\x01")
    assert outbox.put(same_ballot_resigned) == entry
    outbox.settle(election.chain, confirmations=1)
    outbox.settle(election.chain, confirmations=1)
    assert ballots_of(election, token) == [entry.ballot_hash]
    election.kiosk.reset_nonce()  # the refused entry consumed no nonce on chain


def test_the_outbox_holds_no_identity(
    election: EmbeddedElection, token: IssuedToken, tmp_path: Path
) -> None:
    outbox = Outbox(tmp_path / "outbox")
    entry = outbox.put(signed_ballot(election, token, "sato"))
    files = list((tmp_path / "outbox").iterdir())
    assert [f.name for f in files] == [f"{token.address.hex()}.json"]
    data = json.loads(files[0].read_text("ascii"))
    assert set(data) == {"format", "token", "ballot_hash", "tx_hash", "raw"}
    assert data["raw"] == entry.raw.hex()
    outbox.settle(election.chain, confirmations=1)
    outbox.settle(election.chain, confirmations=1)


def test_a_torn_write_and_a_corrupt_entry(tmp_path: Path) -> None:
    directory = tmp_path / "outbox"
    directory.mkdir()
    (directory / f".{'ab' * 20}.json.tmp").write_text("{half")  # died before the rename
    outbox = Outbox(directory)
    assert outbox.depth == 0 and not list(directory.glob(".*.tmp"))
    (directory / f"{'cd' * 20}.json").write_text('{"format": "something-else"}')
    with pytest.raises(CorruptEntry):
        outbox.entries()


def test_sender_nonce_after_restart_follows_the_rebroadcast(
    election: EmbeddedElection, token: IssuedToken, tmp_path: Path
) -> None:
    """A restarted kiosk (new Sender from the same key) re-broadcasts first, then signs anew."""
    outbox = Outbox(tmp_path / "outbox")
    entry = outbox.put(signed_ballot(election, token, "sato"))
    restarted_sender = Sender(election.chain, election.kiosk.account)
    outbox.settle(election.chain, confirmations=1)
    receipt = election.chain.call(lambda w3: w3.eth.get_transaction_receipt(entry.tx_hash))
    assert receipt["status"] == 1
    nonce = election.chain.call(
        lambda w3: w3.eth.get_transaction_count(restarted_sender.account.address, "pending")
    )
    tx = election.chain.call(lambda w3: w3.eth.get_transaction(entry.tx_hash))
    assert nonce == tx["nonce"] + 1
    election.kiosk.reset_nonce()
