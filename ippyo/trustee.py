"""`ippyo trustee`: each trustee's part of the key ceremony and of the decryption, as signed
files exchanged through the tally server's trustee exchange (docs/trustees.md).

A trustee keeps two private files: its Ed25519 signing key (``keygen``; the officials register
the public half for the election) and its ceremony state (secret polynomial, share-encryption
key, received shares, and finally its share x_j of the election key). Both are written with
mode 0600 and never leave the trustee's machine.

Steps, in order: ``announce`` → ``deal`` → ``receive`` (complaints) → ``finish``; then, after
the election, ``decrypt``. Officials prepare the exchange with ``setup``, write the election
plan the dashboard deploys from with ``plan`` once the ceremony is complete, hand over the
encrypted tally with ``tally`` and assemble (and publish) the record with ``record`` (on the
server's own disk).

Exit status: 0 done; 1 refused (the server's refusal code and message are printed, or a check
failed here); 2 the server or chain cannot be reached, or a file cannot be read.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
import requests

from election.context import ElectionContext
from election.errors import ElectionError
from election.keyceremony import Trustee, verify_transcript
from election.manifest import Manifest, canonical_json, manifest_from_dict
from election.primitives.blind_rsa import RSAPublicKey, public_key_from_pem
from election.primitives.group import Point
from election.record import ChainAnchor, ChallengedBallot, ElectionRecord, publication_bytes
from election.tally import EncryptedTally, combine, compute_decryption_share, tally_ballots
from election.validity import CastBallot, Selection, select_ballots
from tally_server.trustees import wire

if TYPE_CHECKING:
    from contracts.chain import Sender
    from contracts.client import BallotBox

STATE_FORMAT = "ippyo/trustee-state"
EXIT_OK, EXIT_REFUSED, EXIT_UNREACHABLE = 0, 1, 2


def _fail(message: str, code: int = EXIT_REFUSED) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


ENCRYPTED_FORMAT = "ippyo/encrypted-file"
PASSPHRASE_ENV = "IPPYO_TRUSTEE_PASSPHRASE"
_SCRYPT = {"n": 1 << 15, "r": 8, "p": 1}


_typed: dict[str, str] = {}
"""The passphrase typed at the prompt during this command (cleared when the command ends)."""


def _passphrase(*, asked: bool) -> str | None:
    """``$IPPYO_TRUSTEE_PASSPHRASE``, or the passphrase typed earlier in this command, or (when
    ``asked``) a prompt. A state file read with a typed passphrase is written back sealed with
    it, never in the clear."""
    value = os.environ.get(PASSPHRASE_ENV) or _typed.get("passphrase")
    if value is None and asked:
        value = click.prompt("trustee passphrase", hide_input=True, err=True)
        _typed["passphrase"] = value
    return value


def _file_key(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode())


def _seal(data: bytes, passphrase: str) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    salt, nonce = os.urandom(16), os.urandom(12)
    key = _file_key(passphrase, salt, **_SCRYPT)
    sealed = AESGCM(key).encrypt(nonce, data, ENCRYPTED_FORMAT.encode())
    doc = {
        "format": ENCRYPTED_FORMAT,
        "version": 1,
        "kdf": {"name": "scrypt", "salt": salt.hex(), **_SCRYPT},
        "nonce": nonce.hex(),
        "ciphertext": sealed.hex(),
    }
    return canonical_json(doc) + b"\n"


def _unseal(data: bytes, path: Path) -> bytes:
    """The plaintext of a private file (sealed with the passphrase, or plain)."""
    try:
        doc = json.loads(data)
    except ValueError:
        return data  # a plain key file (hex)
    if not isinstance(doc, dict) or doc.get("format") != ENCRYPTED_FORMAT:
        return data
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    passphrase = _passphrase(asked=True)
    assert passphrase is not None
    try:
        kdf = doc["kdf"]
        key = _file_key(
            passphrase, bytes.fromhex(kdf["salt"]), int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
        )
        return AESGCM(key).decrypt(
            bytes.fromhex(doc["nonce"]), bytes.fromhex(doc["ciphertext"]), ENCRYPTED_FORMAT.encode()
        )
    except InvalidTag:
        _fail(f"cannot decrypt {path}: wrong passphrase", EXIT_UNREACHABLE)
    except (KeyError, TypeError, ValueError) as exc:
        _fail(f"{path} is not a readable {ENCRYPTED_FORMAT}: {exc}", EXIT_UNREACHABLE)


def _write_private(path: Path, data: bytes) -> None:
    """Write a secret file with mode 0600, atomically (temporary file, then rename); sealed
    with ``$IPPYO_TRUSTEE_PASSPHRASE`` (scrypt + AES-256-GCM) when it is set."""
    passphrase = _passphrase(asked=False)
    if passphrase:
        data = _seal(data, passphrase)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _read_private(path: Path, what: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        _fail(f"cannot read the {what} {path}: {exc.strerror}", EXIT_UNREACHABLE)
    return _unseal(data, path)


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        _fail(f"cannot read the {what} {path}: {exc}", EXIT_UNREACHABLE)


def _read_key(path: Path) -> bytes:
    try:
        key = bytes.fromhex(_read_private(path, "signing key").decode().strip())
    except (UnicodeDecodeError, ValueError) as exc:
        _fail(f"cannot read the signing key {path}: {exc}", EXIT_UNREACHABLE)
    if len(key) != 32:
        _fail(f"{path} is not an Ed25519 private key (32 bytes in hex)", EXIT_UNREACHABLE)
    return key


class Server:
    """The trustee exchange over HTTP."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.base = url.rstrip("/") + "/api/v1/trustees"
        self.timeout = timeout

    def _answer(self, response: requests.Response) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            if isinstance(body, dict) and "error" in body:
                detail = f" ({body['detail']})" if body.get("detail") else ""
                _fail(
                    f"refused: {body['error']} — {body.get('message_ja', '')} / "
                    f"{body.get('message_en', '')}{detail}"
                )
            _fail(f"the server answered HTTP {response.status_code}", EXIT_UNREACHABLE)
        return body

    def get(self, path: str) -> Any:
        try:
            return self._answer(requests.get(self.base + path, timeout=self.timeout))
        except requests.RequestException as exc:
            _fail(f"the trustee exchange does not answer: {exc}", EXIT_UNREACHABLE)

    def upload(self, envelope: dict[str, Any]) -> Any:
        try:
            response = requests.post(
                f"{self.base}/{envelope['election']}/uploads", json=envelope, timeout=self.timeout
            )
        except requests.RequestException as exc:
            _fail(f"the trustee exchange does not answer: {exc}", EXIT_UNREACHABLE)
        return self._answer(response)


class Session:
    """One trustee's private state file and its view of the election."""

    def __init__(self, state_path: Path, key_path: Path, server: Server) -> None:
        self.state_path, self.server = state_path, server
        self.key = _read_key(key_path)
        try:
            raw = json.loads(_read_private(state_path, "trustee state"))
        except ValueError as exc:
            _fail(f"cannot read the trustee state {state_path}: {exc}", EXIT_UNREACHABLE)
        if not isinstance(raw, dict) or raw.get("format") != STATE_FORMAT:
            _fail(f"{state_path} is not an {STATE_FORMAT} file", EXIT_UNREACHABLE)
        self.election_id = bytes.fromhex(raw["election_id"])
        try:
            self.trustee = Trustee.from_state(raw["trustee"], self.election_id)
        except ElectionError as exc:
            _fail(f"{state_path}: {exc}", EXIT_UNREACHABLE)
        self.setup = self.server.get(f"/{self.election_id.hex()}/setup")
        self.manifest: Manifest = manifest_from_dict(self.setup["manifest"])

    def save(self) -> None:
        save_state(self.state_path, self.election_id, self.trustee)

    def send(self, kind: str, body: dict[str, Any]) -> Any:
        envelope = wire.sign_upload(self.key, self.election_id, self.trustee.index, kind, body)
        return self.server.upload(envelope)

    def transcript(self) -> tuple[Any, Any, Any]:
        raw = self.server.get(f"/{self.election_id.hex()}/transcript")
        try:
            return wire.ceremony_from_dict(raw, self.trustee.trustees, self.trustee.quorum)
        except ElectionError as exc:
            _fail(f"the server's transcript is malformed: {exc}")


def save_state(path: Path, election_id: bytes, trustee: Trustee) -> None:
    state = {
        "format": STATE_FORMAT,
        "version": 1,
        "election_id": election_id.hex(),
        "trustee": trustee.export_state(),
    }
    _write_private(path, canonical_json(state) + b"\n")


_server = click.option("--server", required=True, metavar="URL", help="The tally server.")
_key = click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="This trustee's Ed25519 signing key (from `ippyo trustee keygen`).",
)
_state = click.option(
    "--state",
    "state_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="This trustee's private ceremony state (mode 0600).",
)


class _Guarded(click.Group):
    """Malformed data (a state file edited by hand, a server answering something else) is a
    named refusal, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from contracts.chain import ChainError

        _typed.clear()
        try:
            return super().invoke(ctx)
        except (KeyError, TypeError, ValueError, ElectionError) as exc:
            _fail(f"unexpected data ({type(exc).__name__}: {exc})")
        except ChainError as exc:
            _fail(f"the chain cannot be read: {exc}", EXIT_UNREACHABLE)
        finally:
            _typed.clear()


@click.group(
    cls=_Guarded,
    epilog=(
        "Exit status: 0 done; 1 refused (the server's refusal code and message are printed, or "
        "a check failed here); 2 the server or chain cannot be reached, or a file cannot be read."
    ),
)
def trustee() -> None:
    """Trustees: key ceremony and decryption through the tally server's trustee exchange."""


@trustee.command()
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def keygen(out: Path) -> None:
    """Make this trustee's Ed25519 signing key; prints the public key to register."""
    if out.exists():
        _fail(f"{out} exists; refusing to overwrite a key")
    private = wire.new_signing_key()
    _write_private(out, private.hex().encode() + b"\n")
    click.echo(wire.public_key_of(private).hex())


@trustee.command()
@click.option("--dir", "root", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--manifest", "manifest_path", required=True, type=click.Path(path_type=Path))
@click.option("--quorum", required=True, type=click.IntRange(min=1))
@click.option(
    "--trustee-key",
    "keys",
    multiple=True,
    required=True,
    metavar="I=HEX",
    help="Trustee I's Ed25519 public key (repeat for each trustee 1…n).",
)
def setup(root: Path, manifest_path: Path, quorum: int, keys: tuple[str, ...]) -> None:
    """(Officials, on the server) register an election and its trustees' keys."""
    from tally_server.trustees import setup_election

    manifest = manifest_from_dict(_read_json(manifest_path, "manifest"))
    parsed: dict[int, bytes] = {}
    for entry in keys:
        index, _, hex_key = entry.partition("=")
        try:
            parsed[int(index)] = bytes.fromhex(hex_key)
        except ValueError:
            raise click.BadParameter(
                f"{entry!r} is not I=HEX", param_hint="--trustee-key"
            ) from None
    try:
        directory = setup_election(root, manifest, len(parsed), quorum, parsed)
    except (ValueError, FileExistsError) as exc:
        _fail(str(exc))
    click.echo(f"election {manifest.election_id.hex()} registered in {directory}")


@trustee.command()
@_server
@_key
@_state
@click.option("--election", required=True, metavar="ID", help="The election id (hex).")
@click.option("--index", required=True, type=click.IntRange(min=1), help="This trustee's index.")
def announce(server: str, key_path: Path, state_path: Path, election: str, index: int) -> None:
    """Step 1: make the secret polynomial and share key; upload the commitments with proofs."""
    key = _read_key(key_path)
    exchange = Server(server)
    setup_doc = exchange.get(f"/{election}/setup")
    election_id = bytes.fromhex(setup_doc["election_id"])
    if state_path.exists():  # a retry: announce the same polynomial again
        s = Session(state_path, key_path, exchange)
        if s.election_id != election_id or s.trustee.index != index:
            _fail(f"{state_path} belongs to another election or trustee")
        me = s.trustee
    else:
        me = Trustee(index, int(setup_doc["trustees"]), int(setup_doc["quorum"]), election_id)
        save_state(state_path, election_id, me)  # first: a crash after uploading loses nothing
    announcement = me.announce()
    body = {"announcement": wire.announcement_to_dict(announcement)}
    exchange.upload(wire.sign_upload(key, election_id, index, "announcement", body))
    click.echo(f"trustee {index}: announcement accepted")


@trustee.command()
@_server
@_key
@_state
def deal(server: str, key_path: Path, state_path: Path) -> None:
    """Step 2: encrypt a share of the polynomial to every other trustee; upload them."""
    s = Session(state_path, key_path, Server(server))
    announcements, _, _ = s.transcript()
    if len(announcements) != s.trustee.trustees:
        _fail(f"{len(announcements)} of {s.trustee.trustees} trustees have announced; wait")
    shares = s.trustee.deal(announcements)
    s.send("shares", {"shares": [wire.share_to_dict(x) for x in shares]})
    click.echo(f"trustee {s.trustee.index}: {len(shares)} encrypted shares accepted")


@trustee.command()
@_server
@_key
@_state
def receive(server: str, key_path: Path, state_path: Path) -> None:
    """Step 3: decrypt and check the shares sent to this trustee; upload complaints (or none)."""
    s = Session(state_path, key_path, Server(server))
    announcements, shares, _ = s.transcript()
    dealers = {x.dealer for x in shares}
    if len(dealers) != s.trustee.trustees:
        _fail(f"{len(dealers)} of {s.trustee.trustees} trustees have dealt; wait")
    complaints = s.trustee.receive(announcements, shares)
    s.save()
    s.send("complaints", {"complaints": [wire.complaint_to_dict(c) for c in complaints]})
    named = ", ".join(str(c.accused) for c in complaints) or "none"
    click.echo(f"trustee {s.trustee.index}: shares checked; complaints against: {named}")


@trustee.command()
@_server
@_key
@_state
def finish(server: str, key_path: Path, state_path: Path) -> None:
    """Step 4: re-check the whole transcript; form this trustee's share of the election key."""
    s = Session(state_path, key_path, Server(server))
    announcements, shares, complaints = s.transcript()
    try:
        outcome = verify_transcript(
            s.election_id,
            s.trustee.trustees,
            s.trustee.quorum,
            announcements,
            shares,
            complaints,
        )
    except ElectionError as exc:
        _fail(f"the ceremony's transcript does not verify: {exc}")
    published = s.server.get(f"/{s.election_id.hex()}/ceremony")
    if published.get("joint_public_key") != outcome.joint_public_key.hex():
        _fail("the server's joint key is not the one the transcript gives")
    public = s.trustee.finish(outcome.qualified)
    if public != outcome.public_shares[s.trustee.index]:
        _fail("this trustee's share does not match its public share")
    s.save()
    click.echo(
        f"trustee {s.trustee.index}: ceremony complete; qualified {list(outcome.qualified)}; "
        f"election key {outcome.joint_public_key.hex()}"
    )


@dataclass
class ChainTally:
    """The election as the chain holds it after closing, and the tally of its valid ballots."""

    context: ElectionContext
    ballots: list[CastBallot]
    checked: list[ChallengedBallot]
    anchor: ChainAnchor
    selection: Selection
    tally: EncryptedTally


def tally_from_chain(
    urls: list[str],
    contract: str,
    manifest: Manifest,
    trustees: int,
    quorum: int,
    joint: Point,
    *,
    from_block: int = 0,
) -> ChainTally:
    """The encrypted tally of the valid ballots on chain, in the contract's own context."""
    from contracts.chain import Chain
    from contracts.client import BallotBox, Phase
    from ippyo.parallel import pool_checker

    chain = Chain.connect(urls)
    box = BallotBox(chain, contract)
    if box.phase() < Phase.CLOSED:
        _fail("the election is still open: its tally is not final")
    modulus, exponent = box.registrar_key()
    ctx = ElectionContext(
        manifest,
        trustees,
        quorum,
        joint,
        RSAPublicKey(int.from_bytes(modulus, "big"), int.from_bytes(exponent, "big")),
        chain.chain_id,
        bytes.fromhex(contract[2:]),
        box.revote_allowed(),
    )
    if ctx.base_hash != box.base_hash() or ctx.election_id != box.election_id():
        _fail("the contract was not deployed for this election and this election key")
    # Read up to the block that closed the election: nothing can be cast after it, and the
    # record's anchor is then the same whenever it is assembled.
    closed = [block for phase, block in box.phase_changes(from_block) if phase == Phase.CLOSED]
    if len(closed) != 1:
        _fail(f"{len(closed)} PhaseChanged(closed) events after block {from_block}; one is due")
    head = closed[0]
    cast = box.cast_ballots(from_block, head)
    checked = [
        ChallengedBallot(c.seq, c.ballot, c.master_nonce)
        for c in box.challenged_ballots(from_block, head)
    ]
    anchor = ChainAnchor(box.ballot_count(), box.challenged_count(), from_block, head)
    if [b.seq for b in cast] != list(range(anchor.ballot_count)) or [
        c.seq for c in checked
    ] != list(range(anchor.checked_count)):
        _fail("the ballots read do not match the contract's counts (try --from-block 0)")
    selection = select_ballots(ctx, cast, {c.ballot_hash for c in checked}, checker=pool_checker())
    encrypted = tally_ballots(ctx, [b for _, b in selection.counted])
    return ChainTally(ctx, cast, checked, anchor, selection, encrypted)


def _ceremony_done(root: Path, election: str) -> Any:
    """The election's state in the exchange's folder, its key ceremony complete (else the
    command ends: no such election, or the ceremony is not complete)."""
    from tally_server.trustees.exchange import ElectionFiles

    if not re.fullmatch(r"[0-9a-f]{64}", election):
        _fail("--election must be the election id: 64 lowercase hexadecimal digits")
    try:
        state = ElectionFiles(root / election).load()
    except OSError as exc:
        _fail(f"no such election in {root}: {exc}", EXIT_UNREACHABLE)
    if state.joint_public_key is None:
        _fail("the key ceremony is not complete")
    return state


def _election_and_chain_tally(
    root: Path, election: str, rpc: tuple[str, ...], contract: str, from_block: int
) -> tuple[Any, ChainTally]:
    """The election's exchange state (its ceremony complete) and its tally read from the chain;
    a missing election, an incomplete ceremony or an unreadable chain ends the command."""
    from contracts.chain import ChainError

    state = _ceremony_done(root, election)
    assert state.joint_public_key is not None
    try:
        chain_tally = tally_from_chain(
            list(rpc),
            contract,
            state.manifest,
            state.trustees,
            state.quorum,
            state.joint_public_key,
            from_block=from_block,
        )
    except ChainError as exc:
        _fail(f"the chain cannot be read: {exc}", EXIT_UNREACHABLE)
    return state, chain_tally


@trustee.command()
@click.option("--dir", "root", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--election", required=True, metavar="ID")
@click.option("--rpc", "rpc", multiple=True, required=True, metavar="URL")
@click.option("--contract", required=True, metavar="ADDR")
@click.option("--from-block", default=0, type=click.IntRange(min=0))
def tally(root: Path, election: str, rpc: tuple[str, ...], contract: str, from_block: int) -> None:
    """(Officials, on the server) compute the encrypted tally from the chain; hand it over."""
    from tally_server.trustees import Refusal, publish_tally
    from tally_server.trustees.exchange import TallyInput

    state, chain_tally = _election_and_chain_tally(root, election, rpc, contract, from_block)
    encrypted = chain_tally.tally
    try:
        publish_tally(root, state.election_id, TallyInput(chain_tally.context, encrypted))
    except Refusal as exc:
        _fail(f"refused: {exc}")
    click.echo(f"tally of {encrypted.ballot_count} ballots handed to the trustees")


@trustee.command()
@_server
@_key
@_state
@click.option(
    "--rpc",
    "rpc",
    multiple=True,
    metavar="URL",
    help="Recompute the tally from the chain and decrypt only if it is the server's.",
)
@click.option("--contract", metavar="ADDR", help="The BallotBox's address (with --rpc).")
def decrypt(
    server: str, key_path: Path, state_path: Path, rpc: tuple[str, ...], contract: str | None
) -> None:
    """After the election: a decryption share of the tally, with its proofs; upload it."""
    s = Session(state_path, key_path, Server(server))
    raw = s.server.get(f"/{s.election_id.hex()}/tally")
    ceremony = s.server.get(f"/{s.election_id.hex()}/ceremony")
    try:
        encrypted = wire.tally_from_dict(raw["tally"], s.manifest)
        joint = Point.from_bytes(bytes.fromhex(ceremony["joint_public_key"]))
        ctx = ElectionContext(
            s.manifest,
            s.trustee.trustees,
            s.trustee.quorum,
            joint,
            RSAPublicKey(int(raw["registrar_key"]["n"], 16), int(raw["registrar_key"]["e"])),
            int(raw["chain_id"]),
            bytes.fromhex(raw["contract"][2:]),
            bool(raw["revote_allowed"]),
        )
    except (ElectionError, KeyError, TypeError, ValueError) as exc:
        _fail(f"the server's tally is malformed: {exc}")
    if Point.base_times(s.trustee.secret_share) != Point.from_bytes(
        bytes.fromhex(ceremony["public_shares"][str(s.trustee.index)])
    ):
        _fail("the server's ceremony outcome does not match this trustee's share")
    if rpc:
        if contract is None:
            raise click.UsageError("--rpc needs --contract")
        own = tally_from_chain(
            list(rpc), contract, s.manifest, s.trustee.trustees, s.trustee.quorum, joint
        )
        if own.tally != encrypted or own.context != ctx:
            _fail("the server's tally is not the sum of the valid ballots on chain: not decrypting")
    share = compute_decryption_share(
        ctx, s.trustee.index, s.trustee.secret_share, encrypted, os.urandom(32)
    )
    body = {
        "tally_hash": wire.tally_hash(encrypted).hex(),
        "share": wire.decryption_to_dict(share),
    }
    answer = s.send("decryption", body)
    click.echo(f"trustee {s.trustee.index}: decryption share accepted ({answer.get('phase')})")


@trustee.command()
@click.option("--dir", "root", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--election", required=True, metavar="ID")
@click.option(
    "--registrar-public",
    "registrar_pem",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The registrar's public key (PEM, from `ippyo registrar public-key --public-out`).",
)
@click.option(
    "--kiosk",
    "kiosks",
    multiple=True,
    required=True,
    metavar="0xADDR",
    help="A kiosk's chain account (repeat for each kiosk).",
)
@click.option("--revote", is_flag=True, help="Allow a voter to replace their ballot.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def plan(
    root: Path,
    election: str,
    registrar_pem: Path,
    kiosks: tuple[str, ...],
    revote: bool,
    out: Path,
) -> None:
    """(Officials, on the server) write the election plan the dashboard deploys from: the key
    ceremony's transcript, the registrar's public key and the kiosks' accounts."""
    from tally_server.officials.deploy import make_plan, plan_from_json

    state = _ceremony_done(root, election)
    try:
        registrar_key = public_key_from_pem(registrar_pem.read_bytes())
    except OSError as exc:
        _fail(f"cannot read {registrar_pem}: {exc.strerror}", EXIT_UNREACHABLE)
    except (ValueError, ElectionError) as exc:
        _fail(f"{registrar_pem} is not an RSA public key in PEM: {exc}")
    for kiosk in kiosks:
        if not re.fullmatch(r"0x[0-9a-fA-F]{40}", kiosk):
            raise click.BadParameter(f"{kiosk!r} is not a 0x address", param_hint="--kiosk")
    data = make_plan(
        state.manifest,
        state.trustees,
        state.quorum,
        revote,
        registrar_key,
        tuple(state.announcements[i] for i in sorted(state.announcements)),
        tuple(x for i in sorted(state.shares) for x in state.shares[i]),
        tuple(c for i in sorted(state.complaints) for c in state.complaints[i]),
        list(kiosks),
    )
    try:
        plan_from_json(data)  # what the dashboard will check, checked now
    except ElectionError as exc:
        _fail(f"the plan does not check: {exc}")
    if out.exists():
        _fail(f"{out} exists; refusing to overwrite a plan")
    out.write_bytes(data)
    click.echo(f"election plan written to {out} ({len(kiosks)} kiosks); SHA-256 {_sha(data)}")


@trustee.command()
@_server
@click.option("--election", metavar="ID", help="One election (default: all).")
def status(server: str, election: str | None) -> None:
    """Where the ceremony and the decryption stand (JSON)."""
    body = Server(server).get(f"/{election}" if election else "/")
    click.echo(json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True))


def build_record(root: Path, election: str, chain_tally: ChainTally) -> ElectionRecord:
    """The election record from the exchange's files and the chain (after the decryption).

    Refuses (exit 1) when the trustees decrypted another tally than the chain's, when fewer
    than k decryption shares are in, or when the record does not verify."""
    from election.record import verify_record
    from tally_server.trustees.exchange import ElectionFiles

    state = ElectionFiles(root / election).load()
    if state.tally is None or state.result is None:
        _fail(f"the decryption is not complete (phase '{state.phase}')")
    if state.tally.tally != chain_tally.tally or state.tally.context != chain_tally.context:
        _fail("the trustees decrypted another tally than the chain's")
    shares = tuple(state.decryptions[i] for i in sorted(state.decryptions))
    counts = combine(chain_tally.context, chain_tally.tally, shares)
    record = ElectionRecord(
        state.manifest,
        state.trustees,
        state.quorum,
        chain_tally.context.revote_allowed,
        chain_tally.context.chain_id,
        chain_tally.context.contract_address,
        chain_tally.context.registrar_key,
        tuple(state.announcements[i] for i in sorted(state.announcements)),
        tuple(s for i in sorted(state.shares) for s in state.shares[i]),
        tuple(c for i in sorted(state.complaints) for c in state.complaints[i]),
        chain_tally.context.joint_public_key,
        tuple(chain_tally.ballots),
        chain_tally.anchor,
        tuple(chain_tally.checked),
        chain_tally.selection.excluded,
        chain_tally.tally,
        shares,
        counts,
    )
    try:
        verify_record(record)
    except ElectionError as exc:
        _fail(f"the assembled record does not verify: {exc}")
    return record


def publish_record(box: BallotBox, admin: Sender, record: ElectionRecord) -> tuple[bytes, bytes]:
    """publishResult(publication, SHA-256 of the record file): docs/verify.md. Returns both
    hashes (resultHash, transcriptHash)."""
    publication = publication_bytes(record)
    transcript = hashlib.sha256(record.to_json()).digest()
    box.publish_result(admin, publication, transcript)
    return hashlib.sha256(publication).digest(), transcript


@trustee.command()
@click.option("--dir", "root", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--election", required=True, metavar="ID")
@click.option("--rpc", "rpc", multiple=True, required=True, metavar="URL")
@click.option("--contract", required=True, metavar="ADDR")
@click.option("--from-block", default=0, type=click.IntRange(min=0))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--publication",
    "publication_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the publication (the bytes for publishResult).",
)
@click.option(
    "--publish-with",
    "keystore",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The admin's keystore (JSON, password from $IPPYO_ADMIN_PASSWORD or asked): publish "
    "the publication and the record's hash on chain (publishResult).",
)
def record(
    root: Path,
    election: str,
    rpc: tuple[str, ...],
    contract: str,
    from_block: int,
    out: Path,
    publication_out: Path | None,
    keystore: Path | None,
) -> None:
    """(Officials) assemble and verify the election record once k trustees have decrypted;
    optionally publish it on chain."""

    _, chain_tally = _election_and_chain_tally(root, election, rpc, contract, from_block)
    assembled = build_record(root, election, chain_tally)
    data = assembled.to_json()
    out.write_bytes(data)
    click.echo(f"record written to {out} ({len(data)} bytes); SHA-256 {_sha(data)}")
    if publication_out is not None:
        publication = publication_bytes(assembled)
        publication_out.write_bytes(publication)
        click.echo(f"publication written to {publication_out}; SHA-256 {_sha(publication)}")
    if keystore is not None:
        _publish(keystore, list(rpc), contract, assembled)


def _publish(keystore: Path, urls: list[str], contract: str, assembled: ElectionRecord) -> None:
    from eth_account import Account

    from contracts.chain import Chain, ChainError
    from contracts.chain import Sender as AdminSender
    from contracts.client import BallotBox as Box
    from contracts.client import ContractRevert

    encrypted = _read_json(keystore, "admin keystore")
    password = os.environ.get("IPPYO_ADMIN_PASSWORD")
    if password is None:
        password = click.prompt("admin keystore password", hide_input=True, err=True)
    try:
        private = Account.decrypt(encrypted, password)
    except (ValueError, TypeError, KeyError) as exc:
        _fail(f"cannot open the admin keystore: {exc}")
    try:
        chain = Chain.connect(urls)
        result_hash, transcript_hash = publish_record(
            Box(chain, contract), AdminSender(chain, Account.from_key(private)), assembled
        )
    except ContractRevert as exc:
        _fail(f"the contract refused: {exc}")
    except ChainError as exc:
        _fail(f"the chain cannot be reached: {exc}", EXIT_UNREACHABLE)
    click.echo(
        f"published on chain: resultHash {result_hash.hex()}, transcriptHash "
        f"{transcript_hash.hex()}"
    )


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
