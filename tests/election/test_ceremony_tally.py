"""Key ceremony (with a cheating dealer) and threshold decryption by any k of n."""

from __future__ import annotations

import itertools
import os
from dataclasses import replace

import pytest

from election.ballot import PlaintextBallot, encrypt_ballot
from election.context import ElectionContext
from election.errors import CeremonyError, DecryptionError, InvalidProof
from election.keyceremony import (
    Trustee,
    ceremony_hash,
    complaint_upheld,
    run_ceremony,
    verify_transcript,
)
from election.manifest import Manifest
from election.primitives import blind_rsa
from election.primitives.group import G
from election.tally import combine, compute_decryption_share, tally_ballots, verify_decryption_share


def test_cheating_dealer_is_disqualified_and_keys_still_agree(manifest: Manifest) -> None:
    _, ann, _, complaints, result = run_ceremony(manifest.election_id, 5, 3, cheat=(2, 4))
    assert [(c.accuser, c.accused) for c in complaints] == [(4, 2)]
    assert result.qualified == (1, 3, 4, 5)
    assert result.joint_public_key == sum(
        (a.commitments[0] for a in ann if a.trustee != 2), start=G - G
    )
    # A false complaint (about an honest dealer) is not upheld.
    honest = complaints[0]
    _, ann2, shares2, _, _ = run_ceremony(manifest.election_id, 3, 2)
    with pytest.raises(CeremonyError, match="not proven"):
        complaint_upheld(
            replace(honest, accuser=1, accused=2),
            ann2,
            shares2,
            ceremony_hash(manifest.election_id, 3, 2),
        )


def test_transcript_rejects_bad_proof_and_missing_trustee(manifest: Manifest) -> None:
    _, ann, shares, complaints, _ = run_ceremony(manifest.election_id, 3, 2)
    bad = replace(ann[1], commitments=(ann[1].commitments[0] + G, ann[1].commitments[1]))
    with pytest.raises(CeremonyError, match="trustee 2: Schnorr"):
        verify_transcript(manifest.election_id, 3, 2, [ann[0], bad, ann[2]], shares, complaints)
    with pytest.raises(CeremonyError, match=r"trustees 1\.\.3"):
        verify_transcript(manifest.election_id, 3, 2, ann[:2], shares, complaints)
    with pytest.raises(CeremonyError, match="quorum"):
        Trustee(1, 3, 4, manifest.election_id)


def _context(manifest: Manifest, joint: object, rk: blind_rsa.RSAPrivateKey) -> ElectionContext:
    return ElectionContext(manifest, 5, 3, joint, rk.public_key, 1337, b"\x42" * 20)  # type: ignore[arg-type]


def test_every_k_subset_decrypts_the_same(
    manifest: Manifest, registrar_key: blind_rsa.RSAPrivateKey
) -> None:
    trustees, _, _, _, result = run_ceremony(manifest.election_id, 5, 3, cheat=(5, 1))
    ctx = _context(manifest, result.joint_public_key, registrar_key)
    votes = [
        {"mayor": ["m0"], "council": ["c1"]},
        {"mayor": ["m2"], "council": ["c1", "c3"]},
        {"mayor": ["m0"], "council": []},
    ]
    ballots = [
        encrypt_ballot(ctx, PlaintextBallot.from_choices(manifest, v), os.urandom(32))
        for v in votes
    ]
    tally = tally_ballots(ctx, ballots)
    shares = {
        t.index: compute_decryption_share(ctx, t.index, t.secret_share, tally, os.urandom(32))
        for t in trustees
    }
    for share in shares.values():
        verify_decryption_share(ctx, share, result.public_shares[share.trustee], tally)
    expected = ((2, 0, 1), (0, 2, 0, 1))
    for subset in itertools.combinations(sorted(shares), 3):
        assert combine(ctx, tally, [shares[j] for j in subset]) == expected
    assert combine(ctx, tally, list(shares.values())) == expected  # n − k extra shares are fine
    with pytest.raises(DecryptionError, match="3 are needed"):
        combine(ctx, tally, [shares[1], shares[2]])
    with pytest.raises(DecryptionError, match="same trustee"):
        combine(ctx, tally, [shares[1], shares[1], shares[2]])
    # A share from the wrong key does not verify.
    with pytest.raises(InvalidProof):
        verify_decryption_share(ctx, shares[1], result.public_shares[2], tally)


def test_empty_tally(manifest: Manifest, registrar_key: blind_rsa.RSAPrivateKey) -> None:
    trustees, _, _, _, result = run_ceremony(manifest.election_id, 5, 3)
    ctx = _context(manifest, result.joint_public_key, registrar_key)
    tally = tally_ballots(ctx, [])
    shares = [
        compute_decryption_share(ctx, t.index, t.secret_share, tally, os.urandom(32))
        for t in trustees[:3]
    ]
    for s in shares:
        verify_decryption_share(ctx, s, result.public_shares[s.trustee], tally)
    assert combine(ctx, tally, shares) == ((0, 0, 0), (0, 0, 0, 0))
