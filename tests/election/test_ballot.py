"""Ballots: encryption with proofs, canonical bytes, tracking codes, cast-or-check."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from election.ballot import (
    EncryptedBallot,
    EncryptedContest,
    EncryptedSelection,
    PlaintextBallot,
    encrypt_ballot,
    encrypt_ballot_challengeable,
    encrypt_ballot_with_nonce,
    open_challenged,
    option_nonce,
    parse_tracking_code,
    tracking_code,
    verify_ballot,
)
from election.context import ElectionContext
from election.errors import EncodingError, InvalidBallot
from election.keyceremony import Trustee
from election.primitives.elgamal import (
    Ciphertext,
    InvalidNonce,
    decrypt_to_point,
    encrypt,
    sum_ciphertexts,
)
from election.primitives.group import G, N, Point, hash_to_scalar, inverse
from election.primitives.hashing import hash_bytes
from election.primitives.proofs import RangeProof, prove_range, verify_range


@pytest.fixture(scope="module")
def ctx(election: tuple[list[Trustee], ElectionContext]) -> ElectionContext:
    return election[1]


choices = st.tuples(
    st.sampled_from(["m0", "m1", "m2"]),
    st.lists(st.sampled_from(["c0", "c1", "c2", "c3"]), max_size=2, unique=True),
)


@settings(max_examples=8, deadline=None)
@given(choice=choices, nonce=st.binary(min_size=32, max_size=32))
def test_encrypt_verify_round_trip(
    ctx: ElectionContext, choice: tuple[str, list[str]], nonce: bytes
) -> None:
    plain = PlaintextBallot.from_choices(ctx.manifest, {"mayor": [choice[0]], "council": choice[1]})
    ballot = encrypt_ballot(ctx, plain, nonce)
    verify_ballot(ctx, ballot)
    data = ballot.to_bytes()
    assert len(data) == EncryptedBallot.size(ctx.manifest)
    assert EncryptedBallot.from_bytes(data, ctx.manifest) == ballot
    assert encrypt_ballot(ctx, plain, nonce) == ballot  # deterministic from the master nonce
    assert open_challenged(ctx, ballot, nonce) == plain
    assert plain.choices(ctx.manifest)["mayor"] == [choice[0]]
    assert parse_tracking_code(ballot.tracking_code) == ballot.ballot_hash


def test_every_region_of_the_bytes_is_checked(ctx: ElectionContext) -> None:
    plain = PlaintextBallot.from_choices(ctx.manifest, {"mayor": ["m1"], "council": ["c0"]})
    data = encrypt_ballot(ctx, plain, os.urandom(32)).to_bytes()
    # Flip one bit in each 32-byte window; decoding or a proof must fail every time.
    for pos in range(36, len(data), 16):
        bad = bytearray(data)
        bad[pos] ^= 0x01
        with pytest.raises(InvalidBallot):
            verify_ballot(ctx, EncryptedBallot.from_bytes(bytes(bad), ctx.manifest))


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (lambda d: b"XYZ" + d[3:], "magic"),
        (lambda d: d[:3] + b"\x09" + d[4:], "version"),
        (lambda d: d[:-1], "bytes; this election"),
        (lambda d: d[:4] + b"\0" * 32 + d[36:], "another election"),
    ],
)
def test_malformed_ballots(ctx: ElectionContext, mutate: object, reason: str) -> None:
    plain = PlaintextBallot.from_choices(ctx.manifest, {"mayor": ["m0"]})
    data = encrypt_ballot(ctx, plain, os.urandom(32)).to_bytes()
    with pytest.raises(InvalidBallot, match=reason):
        EncryptedBallot.from_bytes(mutate(data), ctx.manifest)  # type: ignore[operator]


@pytest.mark.parametrize(
    "choices, reason",
    [
        ({"mayor": []}, "0 chosen"),
        ({"mayor": ["m0", "m1"]}, "2 chosen"),
        ({"mayor": ["m9"]}, "unknown option"),
        ({"mayor": ["m0"], "x": []}, "unknown contest"),
        ({"mayor": ["m0"], "council": ["c0", "c0"]}, "twice"),
        ({"mayor": ["m0"], "council": ["c0", "c1", "c2"]}, "3 chosen"),
    ],
)
def test_plaintext_rules(ctx: ElectionContext, choices: dict[str, list[str]], reason: str) -> None:
    with pytest.raises(InvalidBallot, match=reason):
        PlaintextBallot.from_choices(ctx.manifest, choices)


def test_overvote_cannot_be_proven(ctx: ElectionContext) -> None:
    """A kiosk that encrypts two mayors cannot make a valid contest range proof."""
    plain = PlaintextBallot.from_choices(ctx.manifest, {"mayor": ["m0"]})
    honest = encrypt_ballot(ctx, plain, os.urandom(32))
    K = ctx.joint_public_key
    forged_ct = encrypt(1, 99, K)
    forged_proof = prove_range(
        forged_ct, 1, 99, K, 0, 1, ctx.base_hash, "contest/0/option/1", b"s" * 32
    )
    contest = honest.contests[0]
    selections = list(contest.selections)
    selections[1] = type(selections[1])(forged_ct, forged_proof)
    forged = EncryptedBallot(
        honest.election_id,
        (type(contest)(tuple(selections), contest.range_proof), *honest.contests[1:]),
    )
    with pytest.raises(InvalidBallot, match="range proof \\[1, 1\\]"):
        verify_ballot(ctx, forged)


def test_challenge_detects_a_cheating_kiosk(
    ctx: ElectionContext, election: tuple[list[Trustee], ElectionContext]
) -> None:
    plain = PlaintextBallot.from_choices(ctx.manifest, {"mayor": ["m0"]})
    nonce = os.urandom(32)
    ballot = encrypt_ballot(ctx, plain, nonce)
    with pytest.raises(InvalidBallot, match="revealed nonce"):
        open_challenged(ctx, ballot, os.urandom(32))
    # The kiosk showed m0 but encrypted m1: opening reveals m1, which the voter sees differs.
    other = PlaintextBallot.from_choices(ctx.manifest, {"mayor": ["m1"]})
    assert open_challenged(ctx, encrypt_ballot(ctx, other, nonce), nonce) != plain


def test_tracking_code_format() -> None:
    code = tracking_code(bytes(range(32)))
    assert all(len(g) == 4 for g in code.split("-")[:-1])
    assert parse_tracking_code(code.lower().replace("-", " ")) == bytes(range(32))


def test_ballot_decrypts_with_joint_secret(election: tuple[list[Trustee], ElectionContext]) -> None:
    trustees, ctx = election
    # Only in a test do we form the joint secret (from the polynomials' constant terms).
    secret = sum(t._coefficients[0] for t in trustees)
    plain = PlaintextBallot.from_choices(ctx.manifest, {"mayor": ["m2"], "council": ["c3"]})
    ballot = encrypt_ballot(ctx, plain, os.urandom(32))
    decrypted = [
        [1 if decrypt_to_point(s.ciphertext, secret) == G else 0 for s in c.selections]
        for c in ballot.contests
    ]
    assert decrypted == [list(r) for r in plain.selections]
    assert Point.base_times(secret) == ctx.joint_public_key


def _hand_encrypt(
    ctx: ElectionContext, plain: PlaintextBallot, nonces: list[list[int]]
) -> EncryptedBallot:
    """A ballot built by hand with chosen ElGamal nonces (0 allowed), with honest proofs for
    those nonces: what a kiosk that skips the library's encryption could send."""
    K, base = ctx.joint_public_key, ctx.base_hash
    contests = []
    for ci, (contest, row) in enumerate(zip(ctx.manifest.contests, plain.selections, strict=True)):
        sels = []
        for oi, m in enumerate(row):
            r = nonces[ci][oi]
            ct = Ciphertext(Point.base_times(r), Point.base_times(m) + K * r)
            proof = prove_range(ct, m, r, K, 0, 1, base, f"contest/{ci}/option/{oi}", b"s" * 32)
            sels.append(EncryptedSelection(ct, proof))
        total = sum_ciphertexts([s.ciphertext for s in sels])
        rp = prove_range(
            total,
            sum(row),
            sum(nonces[ci]) % N,
            K,
            contest.min_selections,
            contest.max_selections,
            base,
            f"contest/{ci}",
            b"s" * 32,
        )
        contests.append(EncryptedContest(tuple(sels), rp))
    return EncryptedBallot(ctx.election_id, tuple(contests))


def test_a_ballot_encrypted_with_nonce_zero_is_refused(ctx: ElectionContext) -> None:
    plain = PlaintextBallot.from_choices(ctx.manifest, {"mayor": ["m1"], "council": ["c2"]})
    shape = [len(row) for row in plain.selections]
    # Control: the same hand-made construction with non-zero nonces is a valid ballot.
    verify_ballot(
        ctx,
        _hand_encrypt(
            ctx, plain, [[7 + i + 10 * c for i in range(n)] for c, n in enumerate(shape)]
        ),
    )
    nonces = [[0] * n for n in shape]  # every option: α = O, β = m·G, the vote in the clear
    ballot = _hand_encrypt(ctx, plain, nonces)
    mayor = ballot.contests[0].selections[1].ciphertext
    assert mayor.alpha.is_identity and mayor.beta == G  # anyone can read this vote
    with pytest.raises(InvalidBallot, match="nonce-0 ciphertext"):
        verify_ballot(ctx, ballot)
    with pytest.raises(InvalidBallot, match="point at infinity"):
        EncryptedBallot.from_bytes(ballot.to_bytes(), ctx.manifest)
    # One option with r = 0 among honest ones is enough to refuse the ballot.
    one = [[5 + i for i in range(n)] for n in shape]
    one[1][2] = 0
    with pytest.raises(InvalidBallot, match=r"council.*nonce-0"):
        verify_ballot(ctx, _hand_encrypt(ctx, plain, one))


def test_encryption_refuses_nonces_outside_1_to_N(ctx: ElectionContext) -> None:
    K = ctx.joint_public_key
    for r in (0, N, N + 5, -1):
        with pytest.raises(InvalidNonce, match="must lie in"):
            encrypt(1, r, K)
    assert not encrypt(1, N - 1, K).alpha.is_identity


def test_the_recipe_draws_a_fresh_master_nonce(ctx: ElectionContext) -> None:
    plain = PlaintextBallot.from_choices(ctx.manifest, {"mayor": ["m0"], "council": ["c1"]})
    a, b = encrypt_ballot(ctx, plain), encrypt_ballot(ctx, plain)
    verify_ballot(ctx, a)
    verify_ballot(ctx, b)
    assert a.ballot_hash != b.ballot_hash
    fixed = bytes(range(32))
    ballot, nonce = encrypt_ballot_challengeable(ctx, plain, lambda n: fixed[:n])
    assert nonce == fixed
    assert (
        ballot == encrypt_ballot_with_nonce(ctx, plain, fixed) == encrypt_ballot(ctx, plain, fixed)
    )
    assert open_challenged(ctx, ballot, nonce) == plain
    with pytest.raises(EncodingError, match="32 bytes"):
        encrypt_ballot_challengeable(ctx, plain, lambda n: b"short")


def _old_prove_01(
    ct: Ciphertext, m: int, r: int, K: Point, base: bytes, context: str, seed: bytes
) -> RangeProof:
    """The 0/1 proof as made before issue 9: nonces from the seed and position only."""

    def old(*labels: str | int) -> int:
        return hash_to_scalar("ippyo/proof-nonce", seed, *labels) or 1

    tag = "ippyo/range-proof"
    u = old(tag, context, "u")
    commitments, challenges, responses = [], [], []
    for j in (0, 1):
        if j == m:
            a, b = Point.base_times(u), K * u
            challenges.append(0)
            responses.append(0)
        else:
            c_j, v_j = old(tag, context, "c", j), old(tag, context, "v", j)
            a = Point.base_times(v_j) + ct.alpha * c_j
            b = K * v_j + (ct.beta - Point.base_times(j)) * c_j
            challenges.append(c_j)
            responses.append(v_j)
        commitments += (a, b)
    c = hash_to_scalar(tag, base, context, K, ct.alpha, ct.beta, 0, 1, commitments)
    challenges[m] = (c - sum(challenges)) % N
    responses[m] = (u - challenges[m] * r) % N
    return RangeProof(tuple(challenges), tuple(responses))


def _vote_from_two_proofs(K: Point, a: EncryptedSelection, b: EncryptedSelection) -> int | None:
    """An observer's attack on two options encrypted with one nonce r: if the proofs share a
    nonce u, some pair of branches gives v_b − v_a = (c_a − c_b)·r. Returns the vote in ``a``."""
    for ca, va in zip(a.proof.challenges, a.proof.responses, strict=True):
        for cb, vb in zip(b.proof.challenges, b.proof.responses, strict=True):
            if ca == cb:
                continue
            r = (vb - va) * inverse(ca - cb) % N
            if Point.base_times(r) == a.ciphertext.alpha:
                m_point = a.ciphertext.beta - K * r
                return 1 if m_point == G else 0
    return None


def test_a_reused_master_nonce_does_not_reveal_votes_through_the_proofs(
    ctx: ElectionContext,
) -> None:
    K, base = ctx.joint_public_key, ctx.base_hash
    master = bytes(32 * [7])
    a_plain = PlaintextBallot.from_choices(ctx.manifest, {"mayor": ["m0"]})
    b_plain = PlaintextBallot.from_choices(ctx.manifest, {"mayor": ["m1"]})
    # The old scheme: the observer recovers r, then the vote, of an option that differs.
    seed = hash_bytes("ippyo/ballot-proof-seed", master)
    r = option_nonce(master, 0, 0)
    old = []
    for m in (1, 0):  # option m0: voted in ballot A, not in B
        ct = encrypt(m, r, K)
        proof = _old_prove_01(ct, m, r, K, base, "contest/0/option/0", seed)
        verify_range(proof, ct, K, 0, 1, base, "contest/0/option/0")  # it was a valid proof
        old.append(EncryptedSelection(ct, proof))
    assert _vote_from_two_proofs(K, old[0], old[1]) == 1
    assert _vote_from_two_proofs(K, old[1], old[0]) == 0
    # The new scheme, through the real encryption: the same attack finds nothing.
    a = encrypt_ballot_with_nonce(ctx, a_plain, master)
    b = encrypt_ballot_with_nonce(ctx, b_plain, master)
    for ci, (ca, cb) in enumerate(zip(a.contests, b.contests, strict=True)):
        for oi, (sa, sb) in enumerate(zip(ca.selections, cb.selections, strict=True)):
            assert sa.ciphertext.alpha == sb.ciphertext.alpha  # one r: the ElGamal nonce is reused
            assert _vote_from_two_proofs(K, sa, sb) is None, (ci, oi)
    assert a.contests[0].selections[0] != b.contests[0].selections[0]
