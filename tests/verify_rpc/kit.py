"""Real elections on real geth nodes for ``ippyo verify --rpc``: deployed, voted (one checked
ballot, one ballot with a broken proof), closed, tallied with one trustee absent, published.

The same election can be replayed on several independent chains (``geth --dev`` nodes) with
one ballot left out on some of them: nodes that disagree.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
from eth_account import Account
from web3 import Web3

from contracts.chain import Chain, Sender
from contracts.client import BallotBox, predict_address
from devnet.network import free_port, geth_path
from election import token as tokens
from election.ballot import PlaintextBallot, encrypt_ballot
from election.context import ElectionContext
from election.keyceremony import Trustee, run_ceremony
from election.manifest import Manifest
from election.primitives import blind_rsa
from election.record import (
    ChainAnchor,
    ChallengedBallot,
    ElectionRecord,
    publication_bytes,
)
from election.tally import combine, compute_decryption_share, tally_ballots
from election.validity import select_ballots
from tests.election.record_helpers import mint

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def dev_geth(directory: Path) -> Iterator[str]:
    """One ``geth --dev`` node (a block a second) on 127.0.0.1; stopped by pid."""
    port = free_port()
    directory.mkdir(parents=True, exist_ok=True)
    log = open(directory / "geth.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [
            str(geth_path()),
            "--dev",
            # A block every second: geth 1.13's on-demand dev blocks (period 0) can leave a
            # transaction pending for good when several arrive at once (go-ethereum #29475).
            "--dev.period",
            "1",
            "--dev.gaslimit",
            "30000000",
            "--datadir",
            str(directory),
            "--http",
            "--http.addr",
            "127.0.0.1",
            "--http.port",
            str(port),
            "--http.api",
            "eth,net,web3",
            "--ipcdisable",
            "--port",
            "0",
            "--nodiscover",
            "--maxpeers",
            "0",
            "--authrpc.port",
            str(free_port()),
            "--verbosity",
            "2",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    log.close()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.post(
                    url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
                ).raise_for_status()
                break
            except requests.RequestException:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"geth --dev did not start; see {directory}/geth.log"
                    ) from None
                time.sleep(0.2)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def fund_from_dev_account(chain: Chain, addresses: Sequence[str], wei: int = 10**21) -> None:
    def go(w3: Web3) -> None:
        faucet = w3.eth.accounts[0]
        sent = [
            w3.eth.send_transaction(
                {"from": faucet, "to": Web3.to_checksum_address(address), "value": wei}  # type: ignore[typeddict-item]
            )
            for address in addresses
        ]
        for tx in sent:
            w3.eth.wait_for_transaction_receipt(tx)

    chain.call(go)


@dataclass
class Election:
    """What happened, as the honest publisher saw it on the first chain."""

    box: BallotBox
    boxes: list[BallotBox]
    record: ElectionRecord
    published: ElectionRecord
    trustees: list[Trustee]
    ctx: ElectionContext
    admin_key: bytes
    kiosk_key: bytes
    record_json: bytes = field(default=b"")

    @property
    def address(self) -> str:
        return self.box.address


def run_election(
    chains: Sequence[Chain],
    manifest: Manifest,
    registrar: blind_rsa.RSAPrivateKey,
    *,
    funded_keys: Sequence[str] = (),
    skip_on: dict[int, int] | None = None,
    publish: Callable[[ElectionRecord], ElectionRecord] | None = None,
    voters: int = 6,
    raw_publication: bytes | None = None,
    publish_nothing: bool = False,
) -> Election:
    """Run one election on every chain (same keys, same transactions, same contract address).

    ``skip_on`` maps a chain's index to a voter whose ballot that chain never receives.
    ``publish`` turns the honest record into the one the admin publishes (a dishonest admin).
    """
    if funded_keys:
        admin_acct, kiosk_acct = Account.from_key(funded_keys[0]), Account.from_key(funded_keys[1])
    else:
        admin_acct, kiosk_acct = Account.create(), Account.create()
        for chain in chains:
            fund_from_dev_account(chain, [admin_acct.address, kiosk_acct.address])
    admins = [Sender(c, admin_acct) for c in chains]
    kiosks = [Sender(c, kiosk_acct) for c in chains]
    nonce = chains[0].call(lambda w3: int(w3.eth.get_transaction_count(admin_acct.address)))
    contract = predict_address(admin_acct.address, nonce)
    people, announcements, shares, complaints, ceremony = run_ceremony(manifest.election_id, 3, 2)
    ctx = ElectionContext(
        manifest,
        3,
        2,
        ceremony.joint_public_key,
        registrar.public_key,
        chains[0].chain_id,
        contract,
        False,
    )
    boxes: list[BallotBox] = []
    first_blocks = []
    for admin, kiosk in zip(admins, kiosks, strict=True):
        box = BallotBox.deploy(
            admin,
            election_id=ctx.election_id,
            base_hash=ctx.base_hash,
            registrar_modulus=registrar.public_key.modulus_bytes(),
            registrar_exponent=registrar.public_key.exponent_bytes(),
            revote_allowed=False,
            kiosks=[kiosk.address],
        )
        assert bytes.fromhex(box.address[2:]) == contract
        first_blocks.append(box.chain.call(lambda w3: int(w3.eth.block_number)))
        box.open(admin)
        boxes.append(box)

    mayors = [o.id for o in manifest.contests[0].options]
    projects = [o.id for o in manifest.contests[1].options]
    votes: list[tuple[int, bytes, bytes, bytes, bytes]] = []
    for v in range(voters):
        plain = PlaintextBallot.from_choices(
            manifest, {"mayor": [mayors[v % 3]], "projects": projects[: v % 3]}
        )
        ballot = encrypt_ballot(ctx, plain, secrets.token_bytes(32)).to_bytes()
        if v == 4:  # a broken kiosk corrupts a proof after signing: cast, then excluded
            raw = bytearray(ballot)
            raw[36 + 66 + 5] ^= 1
            ballot = bytes(raw)
        token, token_sig = mint(ctx, registrar, 100 + v + int.from_bytes(os.urandom(4), "big"))
        binding = tokens.sign_binding(
            token, ctx.chain_id, contract, hashlib.sha256(ballot).digest()
        )
        votes.append((v, token.address, token_sig, ballot, binding))
    checked_plain = PlaintextBallot.from_choices(manifest, {"mayor": [mayors[1]]})
    nonce_bytes = secrets.token_bytes(32)
    checked_ballot = encrypt_ballot(ctx, checked_plain, nonce_bytes).to_bytes()

    for i, (box, kiosk) in enumerate(zip(boxes, kiosks, strict=True)):
        skip = (skip_on or {}).get(i)
        box.challenge_ballot(kiosk, checked_ballot, nonce_bytes)
        pending = [
            box.submit_ballot(kiosk, token, sig, ballot, binding)
            for v, token, sig, ballot, binding in votes
            if v != skip
        ]
        for p in pending:
            box.cast_receipt(p)
        box.close(admins[i])

    box = boxes[0]
    last_block = box.chain.call(lambda w3: int(w3.eth.block_number))
    anchor = ChainAnchor(box.ballot_count(), box.challenged_count(), first_blocks[0], last_block)
    cast = box.cast_ballots(first_blocks[0], last_block)
    challenged = [
        ChallengedBallot(c.seq, c.ballot, c.master_nonce)
        for c in box.challenged_ballots(first_blocks[0], last_block)
    ]
    selection = select_ballots(ctx, cast, {c.ballot_hash for c in challenged})
    tally = tally_ballots(ctx, [b for _, b in selection.counted])
    present = [t for t in people if t.index != 2]  # trustee 2 is absent
    dshares = tuple(
        compute_decryption_share(ctx, t.index, t.secret_share, tally, secrets.token_bytes(32))
        for t in present
    )
    record = ElectionRecord(
        manifest,
        3,
        2,
        False,
        ctx.chain_id,
        contract,
        registrar.public_key,
        tuple(announcements),
        tuple(shares),
        tuple(complaints),
        ceremony.joint_public_key,
        tuple(cast),
        anchor,
        tuple(challenged),
        selection.excluded,
        tally,
        dshares,
        combine(ctx, tally, dshares),
    )
    published = publish(record) if publish is not None else record
    payload = publication_bytes(published) if raw_publication is None else raw_publication
    for b, admin in zip(boxes, admins, strict=True):
        if not publish_nothing:
            b.publish_result(admin, payload, hashlib.sha256(published.to_json()).digest())
    return Election(
        box,
        boxes,
        record,
        published,
        people,
        ctx,
        bytes(admin_acct.key),
        bytes(kiosk_acct.key),
        published.to_json(),
    )


def run_verify(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``ippyo verify`` in a subprocess (the worktree's code first on the path)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "ippyo", "verify", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    return result


def failed_checks(stdout: str) -> list[str]:
    """The check names printed as 'FAIL <name> (count)'."""
    out = []
    for line in stdout.splitlines():
        if line.startswith("FAIL "):
            out.append(line[5:].rsplit(" (", 1)[0])
    return out
