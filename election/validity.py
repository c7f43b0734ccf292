"""Which cast ballots count: one rule set for the tally server and every verifier.

A ballot cast on chain counts only if its token carries the registrar's signature, the token
key signed this very ballot for this chain and contract, the ballot decodes for this election,
no ciphertext has α = identity (nonce 0), every proof verifies, it was not checked
(challenged), no earlier cast carried the very same ballot (a copy is not counted), and it is
its token's first valid ballot (or, where the election allows
re-voting, its token's latest valid ballot). Every other ballot is listed with a stable reason
code and a message — never dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from election.ballot import EncryptedBallot, verify_ballot
from election.context import ElectionContext
from election.errors import InvalidBallot, InvalidSignature
from election.primitives.elgamal import InvalidCiphertext
from election.primitives.hashing import sha256
from election.token import verify_binding, verify_token_signature

# Stable reason codes (the tally server and the observer pages show them).
BAD_TOKEN_SIGNATURE = "bad_token_signature"
BAD_BINDING_SIGNATURE = "bad_binding_signature"
MALFORMED = "malformed"
BAD_PROOF = "bad_proof"
DUPLICATE_TOKEN = "duplicate_token"
SUPERSEDED = "superseded"
CHALLENGED = "challenged"
DUPLICATE_BALLOT = "duplicate_ballot"
ZERO_NONCE = "zero_nonce"


@dataclass(frozen=True, slots=True)
class CastBallot:
    """A ballot as the chain recorded it (BallotCast event / castBallot calldata)."""

    seq: int
    """Position in the chain's order of casts (0, 1, 2, ...)."""
    token: bytes
    """20-byte token address (the nullifier)."""
    token_signature: bytes
    """The registrar's RFC 9474 signature on election_id ‖ token."""
    binding_signature: bytes
    """The token key's ECDSA signature over (chain id, contract, ballot hash)."""
    ballot: bytes
    """The canonical encrypted ballot."""

    @property
    def ballot_hash(self) -> bytes:
        return sha256(self.ballot)


@dataclass(frozen=True, slots=True)
class Exclusion:
    seq: int
    ballot_hash: bytes
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Selection:
    counted: tuple[tuple[CastBallot, EncryptedBallot], ...]
    excluded: tuple[Exclusion, ...]


def check_cast_ballot(context: ElectionContext, cast: CastBallot) -> EncryptedBallot:
    """Every per-ballot rule; raises :class:`InvalidBallot` whose first word is the code."""
    try:
        verify_token_signature(
            context.registrar_key, context.election_id, cast.token, cast.token_signature
        )
    except InvalidSignature as exc:
        raise InvalidBallot(f"{BAD_TOKEN_SIGNATURE}: {exc}") from exc
    try:
        verify_binding(
            cast.token,
            context.chain_id,
            context.contract_address,
            cast.ballot_hash,
            cast.binding_signature,
        )
    except InvalidSignature as exc:
        raise InvalidBallot(f"{BAD_BINDING_SIGNATURE}: {exc}") from exc
    try:
        ballot = EncryptedBallot.from_bytes(cast.ballot, context.manifest)
    except InvalidBallot as exc:
        # The decoder itself refuses α = identity; name that case as what it is.
        code = ZERO_NONCE if isinstance(exc.__cause__, InvalidCiphertext) else MALFORMED
        raise InvalidBallot(f"{code}: {exc}") from exc
    for contest, enc in zip(context.manifest.contests, ballot.contests, strict=True):
        for option, sel in zip(contest.options, enc.selections, strict=True):
            if sel.ciphertext.alpha.is_identity:
                raise InvalidBallot(
                    f"{ZERO_NONCE}: {contest.id}/{option.id} has α = identity (nonce 0), "
                    "so anyone can read the vote"
                )
    try:
        verify_ballot(context, ballot)
    except InvalidBallot as exc:
        raise InvalidBallot(f"{BAD_PROOF}: {exc}") from exc
    return ballot


BallotChecker = Callable[[ElectionContext, Sequence[CastBallot]], Sequence[str | None]]
"""Checks many ballots at once (e.g. in a process pool): for each ballot, in order, ``None`` if
:func:`check_cast_ballot` accepts it, else its refusal's text (``"code: message"``)."""


def check_cast_ballots(context: ElectionContext, cast: Sequence[CastBallot]) -> list[str | None]:
    """The default :data:`BallotChecker`: :func:`check_cast_ballot` on each ballot in turn."""
    out: list[str | None] = []
    for c in cast:
        try:
            check_cast_ballot(context, c)
            out.append(None)
        except InvalidBallot as exc:
            out.append(str(exc))
    return out


def select_ballots(
    context: ElectionContext,
    cast: Sequence[CastBallot],
    challenged_hashes: Collection[bytes] = (),
    *,
    checker: BallotChecker | None = None,
) -> Selection:
    """Apply the re-vote rule to the chain's ballots (in seq order).

    1. A ballot whose hash is a checked (challenged) ballot's is excluded as ``challenged``:
       its nonce is public, so it can never count.
    1b. A ballot whose hash an earlier cast (lower seq, any token, valid or not) already
       carried is excluded as ``duplicate_ballot``: the contract keeps one storage slot per
       token and so no longer refuses a copy of another token's ballot (docs/chain.md), and a
       counted copy would let whoever holds spare tokens replay a voter's ballot and learn
       something of its content from the tally (the ballot-copying attack).
    2. Every other ballot is checked on its own (:func:`check_cast_ballot`); an invalid one is
       excluded with its code and plays no further part.
    3. Among a token's *valid* ballots exactly one counts: the latest when the election allows
       re-voting (earlier ones are ``superseded``), else the first (later ones are
       ``duplicate_token``). A later invalid ballot therefore never voids an earlier valid one.

    ``checker`` runs step 2 over all the ballots at once (default: one after the other); a
    verifier passes one that spreads the proofs over every core.
    """
    ordered = sorted(cast, key=lambda c: c.seq)
    checked = set(challenged_hashes)
    valid: list[tuple[CastBallot, EncryptedBallot]] = []
    excluded: list[Exclusion] = []
    to_check: list[CastBallot] = []
    first_seq: dict[bytes, int] = {}
    for c in ordered:
        first_seq.setdefault(c.ballot_hash, c.seq)
    for c in ordered:
        if c.ballot_hash in checked:
            excluded.append(
                Exclusion(
                    c.seq,
                    c.ballot_hash,
                    CHALLENGED,
                    "this ballot was checked (its nonce is public) and cannot be cast",
                )
            )
        elif first_seq[c.ballot_hash] != c.seq:
            excluded.append(
                Exclusion(
                    c.seq,
                    c.ballot_hash,
                    DUPLICATE_BALLOT,
                    f"a copy of the ballot cast earlier at seq {first_seq[c.ballot_hash]}",
                )
            )
        else:
            to_check.append(c)
    verdicts = (checker or check_cast_ballots)(context, to_check)
    if len(verdicts) != len(to_check):
        raise ValueError("the ballot checker gave a wrong number of verdicts")
    for c, verdict in zip(to_check, verdicts, strict=True):
        if verdict is None:
            # accepted: decode again here (cheap next to the proofs the checker verified)
            valid.append((c, EncryptedBallot.from_bytes(c.ballot, context.manifest)))
        else:
            code, _, message = verdict.partition(": ")
            excluded.append(Exclusion(c.seq, c.ballot_hash, code, message))
    chosen: dict[bytes, int] = {}
    for c, _ in valid:
        if context.revote_allowed or c.token not in chosen:
            chosen[c.token] = c.seq
    counted = []
    for c, ballot in valid:
        if chosen[c.token] == c.seq:
            counted.append((c, ballot))
        elif context.revote_allowed:
            excluded.append(
                Exclusion(
                    c.seq,
                    c.ballot_hash,
                    SUPERSEDED,
                    "replaced by a later valid ballot with the same token",
                )
            )
        else:
            excluded.append(
                Exclusion(
                    c.seq,
                    c.ballot_hash,
                    DUPLICATE_TOKEN,
                    "a second ballot with an already used token",
                )
            )
    excluded.sort(key=lambda e: e.seq)
    return Selection(tuple(counted), tuple(excluded))
