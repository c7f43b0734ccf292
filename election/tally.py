"""The tally: homomorphic sum, trustees' decryption shares with proofs, and the result.

Only the sum of valid ballots is ever decrypted. Each participating trustee j publishes
D_j = x_j·A for every option's summed ciphertext (A, B) with a Chaum–Pedersen proof against its
public share X_j. Any k verified shares combine with Lagrange coefficients:
M = B − Σ λ_j·D_j = t·G, and t is found by baby-step giant-step (0 ≤ t ≤ number of ballots).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from election.ballot import EncryptedBallot
from election.context import ElectionContext
from election.errors import DecryptionError, InvalidProof
from election.primitives.elgamal import Ciphertext, DiscreteLog, sum_ciphertexts
from election.primitives.group import G, N, Point, sum_points
from election.primitives.proofs import ChaumPedersenProof, prove_equal_logs, verify_equal_logs


@dataclass(frozen=True, slots=True)
class EncryptedTally:
    ballot_count: int
    totals: tuple[tuple[Ciphertext, ...], ...]
    """Per contest, per option: Σ of the valid ballots' ciphertexts."""


def tally_ballots(context: ElectionContext, ballots: Sequence[EncryptedBallot]) -> EncryptedTally:
    """The homomorphic sum of (already verified) ballots; an empty tally is all identities."""
    totals = []
    for ci, contest in enumerate(context.manifest.contests):
        totals.append(
            tuple(
                sum_ciphertexts([b.contests[ci].selections[oi].ciphertext for b in ballots])
                for oi in range(len(contest.options))
            )
        )
    return EncryptedTally(len(ballots), tuple(totals))


@dataclass(frozen=True, slots=True)
class DecryptionShare:
    trustee: int
    shares: tuple[tuple[Point, ...], ...]
    """D_j = x_j·A per contest, per option."""
    proofs: tuple[tuple[ChaumPedersenProof, ...], ...]
    """log_G(X_j) = log_A(D_j), context ``decrypt/trustee/j/contest/c/option/o``."""


def _context(trustee: int, ci: int, oi: int) -> str:
    return f"decrypt/trustee/{trustee}/contest/{ci}/option/{oi}"


def compute_decryption_share(
    context: ElectionContext, trustee: int, secret_share: int, tally: EncryptedTally, seed: bytes
) -> DecryptionShare:
    public = Point.base_times(secret_share)
    shares, proofs = [], []
    for ci, row in enumerate(tally.totals):
        shares.append(tuple(ct.alpha * secret_share for ct in row))
        proofs.append(
            tuple(
                prove_equal_logs(
                    secret_share,
                    G,
                    public,
                    ct.alpha,
                    d,
                    context.base_hash,
                    _context(trustee, ci, oi),
                    seed,
                )
                for oi, (ct, d) in enumerate(zip(row, shares[-1], strict=True))
            )
        )
    return DecryptionShare(trustee, tuple(shares), tuple(proofs))


def verify_decryption_share(
    context: ElectionContext, share: DecryptionShare, public_share: Point, tally: EncryptedTally
) -> None:
    if len(share.shares) != len(tally.totals):
        raise InvalidProof(f"trustee {share.trustee}: decryption share has the wrong shape")
    for ci, row in enumerate(tally.totals):
        if len(share.shares[ci]) != len(row) or len(share.proofs[ci]) != len(row):
            raise InvalidProof(f"trustee {share.trustee}: decryption share has the wrong shape")
        for oi, ct in enumerate(row):
            verify_equal_logs(
                share.proofs[ci][oi],
                G,
                public_share,
                ct.alpha,
                share.shares[ci][oi],
                context.base_hash,
                _context(share.trustee, ci, oi),
            )


def lagrange_coefficient(j: int, participants: Sequence[int]) -> int:
    """λ_j = Π_{m ≠ j} m / (m − j) mod N: interpolation at 0."""
    numerator, denominator = 1, 1
    for m in participants:
        if m != j:
            numerator = numerator * m % N
            denominator = denominator * (m - j) % N
    return numerator * pow(denominator, -1, N) % N


def combine(
    context: ElectionContext,
    tally: EncryptedTally,
    shares: Sequence[DecryptionShare],
    dlog: DiscreteLog | None = None,
) -> tuple[tuple[int, ...], ...]:
    """The counts from ≥ k (verified) decryption shares; uses exactly the first k given."""
    participants = sorted({s.trustee for s in shares})
    if len(participants) != len(shares):
        raise DecryptionError("two decryption shares from the same trustee")
    if len(participants) < context.quorum:
        raise DecryptionError(
            f"{len(participants)} trustees took part; {context.quorum} are needed to decrypt"
        )
    chosen = participants[: context.quorum]
    by_trustee = {s.trustee: s for s in shares}
    lambdas = {j: lagrange_coefficient(j, chosen) for j in chosen}
    dlog = dlog or DiscreteLog(tally.ballot_count)
    counts = []
    for ci, row in enumerate(tally.totals):
        counts.append(
            tuple(
                dlog.solve(
                    ct.beta
                    - sum_points([by_trustee[j].shares[ci][oi] * lambdas[j] for j in chosen])
                )
                for oi, ct in enumerate(row)
            )
        )
    return tuple(counts)
