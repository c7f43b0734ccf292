"""``ippyo verify --rpc``: the election record rebuilt from the chain alone, and verified.

Checks, in order (``docs/verify.md``): **nodes agree**, **publication**, **contract**,
**chain anchor**, the core's twelve checks (:data:`election.record.CHECKS`), and with
``--record FILE`` **record hash**, **record ballots**, **record sections**.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from contracts.client import Phase
from election.context import ElectionContext
from election.errors import ElectionError, InvalidRecord
from election.primitives.blind_rsa import RSAPublicKey
from election.record import (
    Check,
    ElectionRecord,
    VerificationReport,
    publication_from_bytes,
    record_from_chain,
    verify_against_chain,
    verify_record,
    verify_record_ballots,
    verify_record_sections,
)
from election.validity import BallotChecker
from ippyo.chainview import NodeView

RPC_CHECKS = ("nodes agree", "publication", "contract", "chain anchor")
RECORD_CHECKS = ("record hash", "record ballots", "record sections")


def _short(value: Any) -> str:
    if isinstance(value, bytes):
        return value.hex()[:16] + ("…" if len(value) > 8 else "")
    if isinstance(value, list):
        return f"{len(value)} entries"
    return str(value)


def check_nodes_agree(views: Sequence[NodeView]) -> Check:
    c = Check("nodes agree")
    c.count = len(views)
    reference = views[0].comparable()
    for view in views[1:]:
        other = view.comparable()
        for key, value in reference.items():
            if other[key] == value:
                continue
            detail = ""
            if isinstance(value, list) and isinstance(other[key], list):
                pairs = zip(value, other[key], strict=False)
                first = next((i for i, (a, b) in enumerate(pairs) if a != b), None)
                if first is None:
                    first = min(len(value), len(other[key]))
                detail = f" (first difference at entry {first})"
            c.failures.append(
                f"{view.url} disagrees with {views[0].url} on the {key}: "
                f"{_short(other[key])} vs {_short(value)}{detail}"
            )
    return c


def check_publication(view: NodeView) -> tuple[Check, ElectionRecord | None]:
    c = Check("publication")
    if view.phase != Phase.TALLIED:
        c.failures.append(f"the contract is in phase '{view.phase.name.lower()}': no result yet")
    if len(view.published) != 1:
        c.failures.append(f"{len(view.published)} ResultPublished events; exactly one is due")
        return c, None
    published = view.published[0]
    c.count = len(published.result)
    digest = hashlib.sha256(published.result).digest()
    if digest != published.result_hash or digest != view.result_hash:
        c.failures.append("the published bytes do not hash to the contract's resultHash")
    if published.transcript_hash != view.transcript_hash:
        c.failures.append("the event's transcript hash is not the contract's transcriptHash")
    try:
        return c, publication_from_bytes(published.result)
    except ElectionError as exc:
        c.failures.append(str(exc))
        return c, None


def check_contract(view: NodeView, address: bytes, record: ElectionRecord) -> Check:
    """The publication describes this contract: chain id, address, and the constructor's
    election id, base hash, re-vote policy and registrar key (the base hash recomputed)."""
    c = Check("contract")
    ctx: ElectionContext = record.context
    expect = [
        ("chain id", record.chain_id, view.chain_id),
        ("contract address", record.contract_address, address),
        ("election id", ctx.election_id, view.election_id),
        ("base hash", ctx.base_hash, view.base_hash),
        ("re-vote policy", record.revote_allowed, view.revote_allowed),
    ]
    try:
        on_chain_key: RSAPublicKey | None = RSAPublicKey(
            int.from_bytes(view.registrar_modulus, "big"),
            int.from_bytes(view.registrar_exponent, "big"),
        )
    except (ElectionError, ValueError):
        on_chain_key = None
    expect.append(("registrar key", record.registrar_key, on_chain_key))
    for name, published, on_chain in expect:
        c.count += 1
        if published != on_chain:
            c.failures.append(
                f"the publication's {name} ({_short(published)}) is not the contract's "
                f"({_short(on_chain)})"
            )
    return c


def verify_chain(
    views: Sequence[NodeView],
    address: bytes,
    *,
    record_file: bytes | None = None,
    checker: BallotChecker | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[VerificationReport, ElectionRecord | None]:
    """Every check over what the nodes said; returns the report and the rebuilt record.

    ``record_file`` must already parse (the caller reports an unreadable file as such)."""
    report = VerificationReport()
    report.checks.append(check_nodes_agree(views))
    view = views[0]
    c, published = check_publication(view)
    report.checks.append(c)
    if published is None:
        return report, None
    report.checks.append(check_contract(view, address, published))
    record = record_from_chain(published, view.ballots, view.challenged)
    anchor = verify_against_chain(
        record,
        view.ballot_count,
        view.checked_count,
        [(b.seq, b.ballot_hash) for b in view.ballots],
        [(ch.seq, ch.ballot_hash) for ch in view.challenged],
    )
    report.checks.append(anchor)
    try:
        core = verify_record(record, progress=progress, checker=checker)
    except InvalidRecord as exc:
        assert isinstance(exc.report, VerificationReport)
        core = exc.report
    report.checks += core.checks
    if record_file is not None:
        file_record = ElectionRecord.from_json(record_file)
        c = Check("record hash")
        c.count = len(record_file)
        if hashlib.sha256(record_file).digest() != view.transcript_hash:
            c.failures.append("SHA-256 of the file is not the transcript hash published on chain")
        report.checks.append(c)
        report.checks.append(
            verify_record_ballots(
                file_record, view.ballot_count, view.checked_count, view.ballots, view.challenged
            )
        )
        report.checks.append(verify_record_sections(file_record, published))
    return report, record
