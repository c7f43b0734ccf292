"""``verify_record``: re-check an election record as a list of named checks.

The names in :data:`CHECKS` are, in order, the lines of ``docs/election-record.md``'s
"What the verifier checks". Every check always runs (a failed ceremony does not hide a bad
tally); :func:`verify_record` returns the report or raises :class:`InvalidRecord` carrying it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from election.ballot import EncryptedBallot, open_challenged, verify_ballot
from election.context import ElectionContext
from election.errors import ElectionError, InvalidRecord
from election.keyceremony import (
    CeremonyResult,
    ceremony_hash,
    complaint_upheld,
    transcript_gaps,
    verify_transcript,
)
from election.primitives.elgamal import DiscreteLog
from election.record.model import ChallengedBallot, ElectionRecord
from election.tally import DecryptionShare, combine, tally_ballots, verify_decryption_share
from election.validity import CHALLENGED, BallotChecker, CastBallot, select_ballots

REGISTRAR_EXPONENT = 65537
REGISTRAR_BITS = (2048, 4096)

CHECKS = (
    "registrar key",
    "ceremony transcript complete",
    "key ceremony",
    "sequence numbers",
    "ballots",
    "checked ballots",
    "checked ballots not counted",
    "no identity α",
    "counted ballots",
    "encrypted tally",
    "decryption shares",
    "result",
)


@dataclass
class Check:
    name: str
    count: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass
class VerificationReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def check(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def failed(self) -> list[str]:
        """Names of the checks that failed, in order."""
        return [c.name for c in self.checks if not c.ok]

    def failures(self) -> list[str]:
        return [f"{c.name}: {f}" for c in self.checks for f in c.failures]

    def summary(self) -> str:
        lines = []
        for c in self.checks:
            mark = "OK  " if c.ok else "FAIL"
            lines.append(f"{mark} {c.name} ({c.count})")
            lines += [f"     - {f}" for f in c.failures]
        return "\n".join(lines)


def verify_record(
    record: ElectionRecord,
    *,
    progress: Callable[[str], None] | None = None,
    checker: BallotChecker | None = None,
) -> VerificationReport:
    """Re-check the whole record. Returns the report, or raises :class:`InvalidRecord` with it.

    ``checker`` checks the cast ballots' signatures and proofs in bulk (see
    :func:`~election.validity.select_ballots`); the default does it one after the other."""
    report = VerificationReport()

    def check(name: str) -> Check:
        assert name in CHECKS, name
        if progress is not None:
            progress(name)
        c = Check(name)
        report.checks.append(c)
        return c

    ctx = record.context
    manifest = record.manifest

    # registrar key
    c = check("registrar key")
    c.count = record.registrar_key.bits
    if record.registrar_key.e != REGISTRAR_EXPONENT:
        c.failures.append(f"the exponent is {record.registrar_key.e}; it must be 65537")
    if not REGISTRAR_BITS[0] <= record.registrar_key.bits <= REGISTRAR_BITS[1]:
        c.failures.append(
            f"the modulus has {record.registrar_key.bits} bits; it must have 2048 to 4096"
        )

    # ceremony transcript complete
    c = check("ceremony transcript complete")
    cer_hash = ceremony_hash(manifest.election_id, record.trustees, record.quorum)
    upheld: list[tuple[int, int]] = []
    for complaint in record.complaints:
        try:
            if complaint_upheld(complaint, record.announcements, record.shares, cer_hash):
                upheld.append((complaint.accuser, complaint.accused))
        except ElectionError:
            pass  # reported by "key ceremony"
    c.failures += transcript_gaps(record.trustees, record.shares, record.complaints, upheld)
    aux = [a.aux_public_key for a in record.announcements]
    if len(set(aux)) != len(aux):
        c.failures.append("two trustees published the same share encryption key")
    c.count = len(record.shares)

    # key ceremony
    c = check("key ceremony")
    ceremony: CeremonyResult | None = None
    try:
        ceremony = verify_transcript(
            manifest.election_id,
            record.trustees,
            record.quorum,
            record.announcements,
            record.shares,
            record.complaints,
        )
        c.count = len(ceremony.qualified)
        if ceremony.joint_public_key != record.joint_public_key:
            c.failures.append("the joint public key is not the sum of the qualified commitments")
    except ElectionError as exc:
        c.failures.append(str(exc))

    # sequence numbers
    c = check("sequence numbers")
    anchor = record.anchor
    seqs = [b.seq for b in record.ballots]
    if seqs != list(range(anchor.ballot_count)):
        c.failures.append(
            f"the chain holds {anchor.ballot_count} ballots (seq 0..{anchor.ballot_count - 1}); "
            f"the record lists {len(seqs)}{_gap(seqs, anchor.ballot_count)}"
        )
    cseqs = [ch.seq for ch in record.challenged]
    if cseqs != list(range(anchor.checked_count)):
        c.failures.append(
            f"the chain holds {anchor.checked_count} checked ballots; the record lists "
            f"{len(cseqs)}{_gap(cseqs, anchor.checked_count)}"
        )
    by_seq = {b.seq: b for b in record.ballots}
    for e in record.excluded:
        cast = by_seq.get(e.seq)
        if cast is None:
            c.failures.append(f"excluded ballot #{e.seq} is not among the ballots")
        elif cast.ballot_hash != e.ballot_hash:
            c.failures.append(f"excluded ballot #{e.seq}: its hash is not ballot #{e.seq}'s")
    c.count = len(seqs) + len(cseqs)

    # ballots
    c = check("ballots")
    checked_hashes = {ch.ballot_hash for ch in record.challenged}
    selection = select_ballots(ctx, record.ballots, checked_hashes, checker=checker)
    c.count = len(record.ballots)
    recorded = {(e.seq, e.ballot_hash, e.code) for e in record.excluded}
    computed = {(e.seq, e.ballot_hash, e.code) for e in selection.excluded}
    for e in selection.excluded:
        if (e.seq, e.ballot_hash, e.code) not in recorded:
            c.failures.append(
                f"ballot #{e.seq} is to be excluded ({e.code}: {e.message}) "
                "but the record does not exclude it so"
            )
    for seq, _, code in sorted(recorded - computed):
        c.failures.append(f"ballot #{seq} is excluded as '{code}' but it must not be")

    # checked ballots
    c = check("checked ballots")
    for ch in record.challenged:
        try:
            ballot = EncryptedBallot.from_bytes(ch.ballot, manifest)
            verify_ballot(ctx, ballot)
            open_challenged(ctx, ballot, ch.master_nonce)
            c.count += 1
        except ElectionError as exc:
            c.failures.append(f"checked ballot #{ch.seq}: {exc}")

    # checked ballots not counted
    c = check("checked ballots not counted")
    counted_hashes = {cast.ballot_hash for cast, _ in selection.counted}
    excluded_as_checked = {e.ballot_hash for e in record.excluded if e.code == CHALLENGED}
    for cast in record.ballots:
        if cast.ballot_hash in checked_hashes:
            c.count += 1
            if cast.ballot_hash in counted_hashes or cast.ballot_hash not in excluded_as_checked:
                c.failures.append(
                    f"ballot #{cast.seq} was checked (its nonce is public) and is counted"
                )

    # no identity α
    c = check("no identity α")
    for cast, ballot in selection.counted:
        c.failures += _identity_alphas(ballot, f"ballot #{cast.seq}")
        c.count += 1
    for ch in record.challenged:
        try:
            opened = EncryptedBallot.from_bytes(ch.ballot, manifest)
        except ElectionError:
            continue  # reported by "checked ballots"
        c.failures += _identity_alphas(opened, f"checked ballot #{ch.seq}")
        c.count += 1

    # counted ballots
    c = check("counted ballots")
    c.count = len(selection.counted)

    # encrypted tally
    tally = record.encrypted_tally
    c = check("encrypted tally")
    expected = tally_ballots(ctx, [b for _, b in selection.counted])
    if tally is None:
        c.failures.append("the record has no tally")
    else:
        c.count = tally.ballot_count
        if tally.ballot_count != expected.ballot_count:
            c.failures.append(
                f"the tally counts {tally.ballot_count} ballots; {expected.ballot_count} are "
                "counted"
            )
        if tally.totals != expected.totals:
            c.failures.append("the published encrypted tally is not the sum of the counted ballots")

    # decryption shares
    c = check("decryption shares")
    good: list[DecryptionShare] = []
    if tally is not None:
        for share in record.decryption_shares:
            public = ceremony.public_shares.get(share.trustee) if ceremony else None
            if public is None:
                c.failures.append(f"trustee {share.trustee}: no public share (ceremony failed)")
                continue
            try:
                verify_decryption_share(ctx, share, public, tally)
                good.append(share)
            except ElectionError as exc:
                c.failures.append(f"trustee {share.trustee}: {exc}")
    c.count = len(good)

    # result
    c = check("result")
    if tally is not None and record.result is not None:
        try:
            # the bound is the recomputed count, never the record's (which could be huge)
            counts = combine(ctx, tally, good, DiscreteLog(max(expected.ballot_count, 1)))
            c.count = sum(sum(row) for row in counts)
            if counts != record.result:
                c.failures.append(
                    f"published result {_fmt(record.result)} but the decryption "
                    f"gives {_fmt(counts)}"
                )
        except ElectionError as exc:
            c.failures.append(str(exc))
    else:
        c.failures.append("no result is published")
    if not report.ok:
        raise InvalidRecord("; ".join(report.failures()), report)
    return report


def _identity_alphas(ballot: EncryptedBallot, where: str) -> list[str]:
    return [
        f"{where}: contest {ci} option {oi} has α = identity (nonce 0: the vote is readable)"
        for ci, contest in enumerate(ballot.contests)
        for oi, sel in enumerate(contest.selections)
        if sel.ciphertext.alpha.is_identity
    ]


def _gap(seqs: Sequence[int], count: int) -> str:
    present = set(seqs)
    missing = [s for s in range(count) if s not in present]
    extra = [s for s in seqs if not 0 <= s < count]
    parts = []
    if missing:
        parts.append(
            f"missing seq {missing[0]}"
            + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")
        )
    if extra:
        parts.append(f"seq {extra[0]} is beyond the chain's count")
    return " (" + "; ".join(parts) + ")" if parts else ""


def _fmt(counts: Sequence[Sequence[int]]) -> str:
    return "/".join(",".join(str(n) for n in row) for row in counts)


__all__ = [
    "CHECKS",
    "Check",
    "ElectionContext",
    "VerificationReport",
    "verify_against_chain",
    "verify_record",
    "verify_record_ballots",
    "verify_record_sections",
]


def verify_against_chain(
    record: ElectionRecord,
    ballot_count: int,
    checked_count: int,
    cast_events: Sequence[tuple[int, bytes]],
    checked_events: Sequence[tuple[int, bytes]],
) -> Check:
    """The "chain anchor" check, for a verifier that can read the chain (``--rpc``).

    ``ballot_count``/``checked_count`` are the contract's ``ballotCount``/``challengedCount``
    at ``record.anchor.last_block``; the events are (seq, ballot hash) of every BallotCast and
    BallotChallenged event from ``first_block`` to ``last_block``. With the record's own
    "sequence numbers" check this proves that no ballot is missing, added or renumbered.
    """
    c = Check("chain anchor")
    anchor = record.anchor
    if (anchor.ballot_count, anchor.checked_count) != (ballot_count, checked_count):
        c.failures.append(
            f"the record anchors {anchor.ballot_count} ballots and {anchor.checked_count} checked "
            f"ballots; the chain holds {ballot_count} and {checked_count}"
        )
    for label, listed, events in (
        ("ballot", [(b.seq, b.ballot_hash) for b in record.ballots], cast_events),
        ("checked ballot", [(ch.seq, ch.ballot_hash) for ch in record.challenged], checked_events),
    ):
        on_chain = dict(events)
        in_record = dict(listed)
        for seq in sorted(set(on_chain) | set(in_record)):
            if seq not in in_record:
                c.failures.append(f"{label} #{seq} is on the chain but not in the record")
            elif seq not in on_chain:
                c.failures.append(f"{label} #{seq} is in the record but not on the chain")
            elif on_chain[seq] != in_record[seq]:
                c.failures.append(f"{label} #{seq} has another hash on the chain")
        c.count += len(events)
    return c


def verify_record_ballots(
    record: ElectionRecord,
    ballot_count: int,
    checked_count: int,
    cast: Sequence[CastBallot],
    checked: Sequence[ChallengedBallot],
) -> Check:
    """The "record ballots" check: a published record holds exactly the chain's ballots.

    :func:`verify_against_chain` over the chain's counters and (seq, hash) pairs — none
    dropped, none added, none renumbered — and then, seq by seq, the same token, signatures and
    bytes for every ballot and the same ballot and master nonce for every checked ballot.
    """
    c = verify_against_chain(
        record,
        ballot_count,
        checked_count,
        [(b.seq, b.ballot_hash) for b in cast],
        [(ch.seq, ch.ballot_hash) for ch in checked],
    )
    c.name = "record ballots"
    if len({b.seq for b in record.ballots}) != len(record.ballots):
        c.failures.append("the record lists a ballot seq twice")
    on_chain = {b.seq: b for b in cast}
    for b in record.ballots:
        other = on_chain.get(b.seq)
        if other is not None and other.ballot_hash == b.ballot_hash and other != b:
            c.failures.append(f"ballot #{b.seq}: its token or signatures differ from the chain's")
    checked_on_chain = {ch.seq: ch for ch in checked}
    for ch in record.challenged:
        other_ch = checked_on_chain.get(ch.seq)
        if other_ch is not None and other_ch.ballot == ch.ballot and other_ch != ch:
            c.failures.append(
                f"checked ballot #{ch.seq}: its master nonce differs from the chain's"
            )
    return c


def verify_record_sections(record: ElectionRecord, published: ElectionRecord) -> Check:
    """The "record sections" check: every section but the ballots equals the on-chain
    publication's (manifest, parameters, chain anchor, registrar key, ceremony, keys,
    exclusions, tally, decryption shares and result)."""
    from election.record.codec import record_to_dict

    c = Check("record sections")
    mine, theirs = record_to_dict(record), record_to_dict(published)
    for key in sorted(set(mine) | set(theirs)):
        if key in ("ballots", "challenged"):
            continue
        c.count += 1
        if mine.get(key) != theirs.get(key):
            c.failures.append(f"'{key}' differs from the publication on chain")
    return c
