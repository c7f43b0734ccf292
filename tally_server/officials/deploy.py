"""Deploying the BallotBox from the dashboard, from an **election plan** (``ippyo/election-plan``
version 1): everything the contract and the election setup need that exists before the chain
does —

    format, version, manifest, parameters{group, trustees, quorum, revote_allowed},
    registrar_key{n, e}, ceremony{announcements, shares, complaints}, kiosks[0x addresses]

(the fields have the election record's encoding; the key ceremony's transcript is verified and
the joint public key derived from it). :func:`deploy` predicts the contract's address from the
admin's nonce (the base hash binds it), deploys with the admin's keystore, checks the address,
and writes the election setup (``ippyo/election-setup``) to ``election_file``, which must not
exist yet. The indexer reads that file at start: start (or restart) ``ippyo tally index`` after.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from eth_utils.address import to_checksum_address

from contracts.chain import ChainError, Sender
from contracts.client import BallotBox, ContractRevert, predict_address
from election.context import ElectionContext
from election.errors import ElectionError, EncodingError
from election.keyceremony import Announcement, Complaint, EncryptedShare, verify_transcript
from election.manifest import Manifest, canonical_json
from election.primitives.blind_rsa import RSAPublicKey
from election.record import codec
from tally_server.config import TallyConfig
from tally_server.election_setup import ElectionSetup
from tally_server.errors import Refusal
from tally_server.officials.lifecycle import admin_account, connect

FORMAT = "ippyo/election-plan"
VERSION = 1
MAX_KIOSKS = 10_000
MAX_PLAN = 4 * 1024 * 1024
_TOP = {"format", "version", "manifest", "parameters", "registrar_key", "ceremony", "kiosks"}


@dataclass(frozen=True)
class ElectionPlan:
    manifest: Manifest
    trustees: int
    quorum: int
    revote_allowed: bool
    registrar_key: RSAPublicKey
    announcements: tuple[Announcement, ...]
    shares: tuple[EncryptedShare, ...]
    complaints: tuple[Complaint, ...]
    kiosks: tuple[str, ...]
    """Checksummed addresses of the kiosks' chain accounts."""


def plan_to_json(setup_like: ElectionSetup, kiosks: list[str] | tuple[str, ...]) -> bytes:
    """The plan of an election whose ceremony and registrar key are known (tests, tooling):
    the setup's fields without the chain, plus the kiosks."""
    ctx = setup_like.context
    return make_plan(
        ctx.manifest,
        ctx.trustees,
        ctx.quorum,
        ctx.revote_allowed,
        ctx.registrar_key,
        setup_like.announcements,
        setup_like.shares,
        setup_like.complaints,
        kiosks,
    )


def make_plan(
    manifest: Manifest,
    trustees: int,
    quorum: int,
    revote_allowed: bool,
    registrar_key: RSAPublicKey,
    announcements: tuple[Announcement, ...],
    shares: tuple[EncryptedShare, ...],
    complaints: tuple[Complaint, ...],
    kiosks: list[str] | tuple[str, ...],
) -> bytes:
    """An election plan (the file the dashboard's deploy form takes) from the key ceremony's
    transcript, the registrar's public key and the kiosks' chain accounts."""
    plan = {
        "format": FORMAT,
        "version": VERSION,
        "manifest": manifest.to_dict(),
        "parameters": {
            "group": "secp256k1",
            "trustees": trustees,
            "quorum": quorum,
            "revote_allowed": revote_allowed,
        },
        "registrar_key": {"n": format(registrar_key.n, "x"), "e": registrar_key.e},
        "ceremony": codec.ceremony_to_dict(announcements, shares, complaints),
        "kiosks": ["0x" + bytes.fromhex(k.removeprefix("0x")).hex() for k in kiosks],
    }
    return canonical_json(plan) + b"\n"


def plan_from_json(data: bytes) -> ElectionPlan:
    """Parse a plan strictly (unknown or missing fields refused, the JSON path named) and verify
    its key ceremony; an :class:`EncodingError` or :class:`ElectionError` otherwise."""
    try:
        raw = json.loads(bytes(data).decode("utf-8"), object_pairs_hook=codec._no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise EncodingError(f"plan: not UTF-8 JSON ({exc})") from exc
    p = "plan"
    top = codec._obj(raw, p, _TOP)
    if top["format"] != FORMAT:
        raise codec._fail(f"{p}.format", f"must be {FORMAT!r}")
    if codec._int(top["version"], f"{p}.version") != VERSION:
        raise codec._fail(f"{p}.version", f"this server reads version {VERSION}")
    manifest = codec._manifest(top["manifest"], f"{p}.manifest")
    params = codec._obj(
        top["parameters"], f"{p}.parameters", {"group", "trustees", "quorum", "revote_allowed"}
    )
    if params["group"] != "secp256k1":
        raise codec._fail(f"{p}.parameters.group", "must be 'secp256k1'")
    trustees = codec._int(params["trustees"], f"{p}.parameters.trustees", 1, codec.MAX_TRUSTEES)
    quorum = codec._int(params["quorum"], f"{p}.parameters.quorum", 1, trustees)
    revote = codec._bool(params["revote_allowed"], f"{p}.parameters.revote_allowed")
    rp = f"{p}.registrar_key"
    rk = codec._obj(top["registrar_key"], rp, {"n", "e"})
    n_text = codec._str(rk["n"], f"{rp}.n", codec.MAX_RSA_BITS // 4)
    if not codec._MODULUS.fullmatch(n_text):
        raise codec._fail(f"{rp}.n", "must be lowercase hexadecimal without leading zeros")
    e = codec._int(rk["e"], f"{rp}.e", 1, (1 << 32) - 1)
    registrar_key = codec._decode(rp, lambda: RSAPublicKey(int(n_text, 16), e))
    announcements, shares, complaints = codec._ceremony(
        top["ceremony"], f"{p}.ceremony", trustees, quorum
    )
    kiosk_list = top["kiosks"]
    if not isinstance(kiosk_list, list) or not 1 <= len(kiosk_list) <= MAX_KIOSKS:
        raise codec._fail(f"{p}.kiosks", f"must be a list of 1 to {MAX_KIOSKS} addresses")
    kiosks = tuple(
        to_checksum_address(codec._address(k, f"{p}.kiosks[{i}]")) for i, k in enumerate(kiosk_list)
    )
    if len(set(kiosks)) != len(kiosks):
        raise codec._fail(f"{p}.kiosks", "a kiosk is listed twice")
    return ElectionPlan(
        manifest,
        trustees,
        quorum,
        revote,
        registrar_key,
        announcements,
        shares,
        complaints,
        kiosks,
    )


def deploy(config: TallyConfig, plan_bytes: bytes, password: str) -> ElectionSetup:
    """Deploy the plan's BallotBox signed by the admin's keystore and write the setup file."""
    target = config.election_file
    if target is None:
        raise Refusal("election_not_configured", "election_file must name where to write")
    if Path(target).exists():
        raise Refusal("election_already_deployed", str(target))
    if len(plan_bytes) > MAX_PLAN:
        raise Refusal("bad_election_plan", f"larger than {MAX_PLAN} bytes")
    try:
        plan = plan_from_json(plan_bytes)
        ceremony = verify_transcript(
            plan.manifest.election_id,
            plan.trustees,
            plan.quorum,
            plan.announcements,
            plan.shares,
            plan.complaints,
        )
    except ElectionError as exc:
        raise Refusal("bad_election_plan", str(exc)) from exc
    account = admin_account(config, password)
    chain = connect(config)
    admin = Sender(chain, account)
    try:
        nonce = chain.call(lambda w3: int(w3.eth.get_transaction_count(account.address, "pending")))
        context = ElectionContext(
            plan.manifest,
            plan.trustees,
            plan.quorum,
            ceremony.joint_public_key,
            plan.registrar_key,
            chain.chain_id,
            predict_address(admin.address, nonce),
            plan.revote_allowed,
        )
        box = BallotBox.deploy(
            admin,
            election_id=context.election_id,
            base_hash=context.base_hash,
            registrar_modulus=plan.registrar_key.modulus_bytes(),
            registrar_exponent=plan.registrar_key.exponent_bytes(),
            revote_allowed=plan.revote_allowed,
            kiosks=list(plan.kiosks),
        )
        first_block = chain.call(lambda w3: int(w3.eth.block_number))
    except ContractRevert as exc:
        raise Refusal("chain_refused", f"{exc.name}: {exc.message_ja} / {exc.message_en}") from exc
    except ChainError as exc:
        raise Refusal("chain_unavailable", str(exc)) from exc
    except ElectionError as exc:
        raise Refusal("bad_election_plan", str(exc)) from exc
    if bytes.fromhex(box.address[2:]) != context.contract_address:
        raise Refusal(
            "chain_refused",
            f"deployed at {box.address}, not at the predicted address (another transaction from "
            "the admin account came in between); deploy again with a fresh election_file",
        )
    setup = ElectionSetup(context, first_block, plan.announcements, plan.shares, plan.complaints)
    _write_new(Path(target), setup.to_json())
    return setup


def _write_new(path: Path, data: bytes) -> None:
    """Write ``path`` only if it does not exist (never overwrite an election's setup)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    try:
        os.link(tmp, path)
    except FileExistsError as exc:
        raise Refusal("election_already_deployed", str(path)) from exc
    finally:
        tmp.unlink(missing_ok=True)
