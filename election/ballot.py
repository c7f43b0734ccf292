"""Ballots: plaintext choices, encryption with proofs, the canonical encoding, tracking codes,
and the Benaloh challenge (cast or check).

Every option is encrypted as 0 or 1 with a 0/1 range proof; every contest carries a range proof
that the sum of its options lies in [min, max]. All nonces derive from one 256-bit master nonce,
so a challenged ballot reveals a single value and anyone can open it.

Wire format (``EncryptedBallot.to_bytes``), fixed by the manifest so it has no length fields::

    "IPB" version(1) election_id(32)
    per contest: per option: α(33) β(33) proof(128)     then range proof (64 per branch)

The ballot hash is SHA-256 of these bytes: the contract computes it, the token key signs it,
and the voter's tracking code is its base32 form.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from election.context import ElectionContext
from election.errors import EncodingError, InvalidBallot, InvalidProof
from election.manifest import Manifest
from election.primitives.elgamal import Ciphertext, encrypt, sum_ciphertexts
from election.primitives.group import G, Point, hash_to_scalar
from election.primitives.hashing import hash_bytes, sha256
from election.primitives.proofs import RangeProof, prove_range, verify_range

MAGIC = b"IPB"
VERSION = 1
_OPTION_SIZE = 66 + RangeProof.size(2)


@dataclass(frozen=True, slots=True)
class PlaintextBallot:
    """The voter's choices: per contest, per option, 0 or 1."""

    selections: tuple[tuple[int, ...], ...]

    @staticmethod
    def from_choices(manifest: Manifest, choices: Mapping[str, Sequence[str]]) -> PlaintextBallot:
        """Build from ``{contest id: [option ids]}``.

        Raises :class:`InvalidBallot` with the reason.
        """
        unknown = set(choices) - {c.id for c in manifest.contests}
        if unknown:
            raise InvalidBallot(f"unknown contest: {sorted(unknown)[0]}")
        rows = []
        for contest in manifest.contests:
            chosen = list(choices.get(contest.id, ()))
            ids = [o.id for o in contest.options]
            for option_id in chosen:
                if option_id not in ids:
                    raise InvalidBallot(f"{contest.id}: unknown option '{option_id}'")
            if len(set(chosen)) != len(chosen):
                raise InvalidBallot(f"{contest.id}: an option is chosen twice")
            if not contest.min_selections <= len(chosen) <= contest.max_selections:
                raise InvalidBallot(
                    f"{contest.id}: {len(chosen)} chosen; allowed "
                    f"{contest.min_selections} to {contest.max_selections}"
                )
            rows.append(tuple(1 if oid in chosen else 0 for oid in ids))
        return PlaintextBallot(tuple(rows))

    def choices(self, manifest: Manifest) -> dict[str, list[str]]:
        return {
            contest.id: [o.id for o, m in zip(contest.options, row, strict=True) if m]
            for contest, row in zip(manifest.contests, self.selections, strict=True)
        }

    def check_against(self, manifest: Manifest) -> None:
        if len(self.selections) != len(manifest.contests):
            raise InvalidBallot("the ballot does not have one row per contest")
        for contest, row in zip(manifest.contests, self.selections, strict=True):
            if len(row) != len(contest.options) or any(m not in (0, 1) for m in row):
                raise InvalidBallot(f"{contest.id}: each option must be 0 or 1")
            if not contest.min_selections <= sum(row) <= contest.max_selections:
                raise InvalidBallot(f"{contest.id}: {sum(row)} chosen is out of range")


@dataclass(frozen=True, slots=True)
class EncryptedSelection:
    ciphertext: Ciphertext
    proof: RangeProof
    """0/1 proof: the option encrypts 0 or 1."""


@dataclass(frozen=True, slots=True)
class EncryptedContest:
    selections: tuple[EncryptedSelection, ...]
    range_proof: RangeProof
    """The sum of the options lies in [min, max]."""

    @property
    def total(self) -> Ciphertext:
        return sum_ciphertexts([s.ciphertext for s in self.selections])


@dataclass(frozen=True, slots=True)
class EncryptedBallot:
    election_id: bytes
    contests: tuple[EncryptedContest, ...]

    def to_bytes(self) -> bytes:
        out = [MAGIC, bytes([VERSION]), self.election_id]
        for contest in self.contests:
            for sel in contest.selections:
                out += (sel.ciphertext.to_bytes(), sel.proof.to_bytes())
            out.append(contest.range_proof.to_bytes())
        return b"".join(out)

    @property
    def ballot_hash(self) -> bytes:
        return sha256(self.to_bytes())

    @property
    def tracking_code(self) -> str:
        return tracking_code(self.ballot_hash)

    @staticmethod
    def size(manifest: Manifest) -> int:
        return 36 + sum(
            len(c.options) * _OPTION_SIZE + RangeProof.size(c.range_branches)
            for c in manifest.contests
        )

    @staticmethod
    def from_bytes(data: bytes, manifest: Manifest) -> EncryptedBallot:
        """Decode against the manifest; :class:`InvalidBallot` says what is wrong."""
        expected = EncryptedBallot.size(manifest)
        if data[:3] != MAGIC:
            raise InvalidBallot("not an ippyo ballot (bad magic bytes)")
        if len(data) < 4 or data[3] != VERSION:
            raise InvalidBallot(f"unsupported ballot version {data[3] if len(data) > 3 else None}")
        if len(data) != expected:
            raise InvalidBallot(f"ballot is {len(data)} bytes; this election's are {expected}")
        if data[4:36] != manifest.election_id:
            raise InvalidBallot("ballot is for another election")
        pos = 36
        contests = []
        for contest in manifest.contests:
            try:
                selections = []
                for _ in contest.options:
                    ct = Ciphertext.from_bytes(data[pos : pos + 66], strict=True)
                    proof = RangeProof.from_bytes(data[pos + 66 : pos + _OPTION_SIZE], 2)
                    selections.append(EncryptedSelection(ct, proof))
                    pos += _OPTION_SIZE
                size = RangeProof.size(contest.range_branches)
                rp = RangeProof.from_bytes(data[pos : pos + size], contest.range_branches)
                pos += size
                contests.append(EncryptedContest(tuple(selections), rp))
            except EncodingError as exc:
                raise InvalidBallot(f"{contest.id}: {exc}") from exc
        return EncryptedBallot(bytes(data[4:36]), tuple(contests))


def tracking_code(ballot_hash: bytes) -> str:
    """The voter's tracking code: base32 of the ballot hash in groups of four."""
    text = base64.b32encode(ballot_hash).decode().rstrip("=")
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def parse_tracking_code(code: str) -> bytes:
    """The ballot hash from a tracking code (spaces, dashes and case are forgiven)."""
    text = "".join(ch for ch in code.upper() if ch.isalnum())
    try:
        data = base64.b32decode(text + "=" * (-len(text) % 8))
    except ValueError as exc:
        raise EncodingError("not a tracking code") from exc
    if len(data) != 32:
        raise EncodingError("a tracking code encodes 32 bytes")
    return data


def option_context(contest_index: int, option_index: int) -> str:
    return f"contest/{contest_index}/option/{option_index}"


def contest_context(contest_index: int) -> str:
    return f"contest/{contest_index}"


def option_nonce(master_nonce: bytes, contest_index: int, option_index: int) -> int:
    """The ElGamal nonce of one option: H("ippyo/ballot-nonce", master, contest, option) mod N,
    with 0 replaced by 1 (docs/protocol.md)."""
    return hash_to_scalar("ippyo/ballot-nonce", master_nonce, contest_index, option_index) or 1


def new_master_nonce(random_bytes: Callable[[int], bytes] = secrets.token_bytes) -> bytes:
    """A fresh 32-byte master nonce from the operating system's CSPRNG (``secrets``)."""
    nonce = random_bytes(32)
    if len(nonce) != 32:
        raise EncodingError("the randomness source must return 32 bytes")
    return nonce


def encrypt_ballot(
    context: ElectionContext, ballot: PlaintextBallot, master_nonce: bytes | None = None
) -> EncryptedBallot:
    """Encrypt a ballot with its proofs under a fresh master nonce: the recipe to use.

    ``encrypt_ballot(ctx, ballot)`` draws the master nonce from ``secrets``. Passing one is the
    older form, kept for existing callers; it is :func:`encrypt_ballot_with_nonce`.
    A kiosk that offers the Benaloh challenge uses :func:`encrypt_ballot_challengeable`, which
    also returns the nonce to reveal if the voter checks the ballot.
    """
    if master_nonce is None:
        master_nonce = new_master_nonce()
    return encrypt_ballot_with_nonce(context, ballot, master_nonce)


def encrypt_ballot_challengeable(
    context: ElectionContext,
    ballot: PlaintextBallot,
    random_bytes: Callable[[int], bytes] = secrets.token_bytes,
) -> tuple[EncryptedBallot, bytes]:
    """The encrypted ballot and its fresh master nonce (kept secret unless the ballot is
    checked, then published so anyone can run :func:`open_challenged`)."""
    master_nonce = new_master_nonce(random_bytes)
    return encrypt_ballot_with_nonce(context, ballot, master_nonce), master_nonce


def encrypt_ballot_with_nonce(
    context: ElectionContext, ballot: PlaintextBallot, master_nonce: bytes
) -> EncryptedBallot:
    """Encrypt with proofs; every nonce derives from the 32-byte ``master_nonce``.

    The seam for tests and known-answer vectors. **The master nonce must be fresh and secret
    for every ballot.** Every ElGamal nonce is ``option_nonce(master_nonce, contest, option)``,
    so two ballots under one master nonce share their nonces and ``β_A − β_B = (m_A − m_B)·G``
    shows where they differ. The proofs do not make it worse: their nonces also depend on the
    ciphertext (see :mod:`election.primitives.proofs`), so they do not reveal the nonce r.
    """
    if len(master_nonce) != 32:
        raise EncodingError("the master nonce is 32 bytes")
    manifest = context.manifest
    ballot.check_against(manifest)
    key, base = context.joint_public_key, context.base_hash
    seed = hash_bytes("ippyo/ballot-proof-seed", master_nonce)
    contests = []
    for ci, (contest, row) in enumerate(zip(manifest.contests, ballot.selections, strict=True)):
        selections = []
        total_nonce = 0
        for oi, m in enumerate(row):
            r = option_nonce(master_nonce, ci, oi)
            total_nonce += r
            ct = encrypt(m, r, key)
            proof = prove_range(ct, m, r, key, 0, 1, base, option_context(ci, oi), seed)
            selections.append(EncryptedSelection(ct, proof))
        total = sum_ciphertexts([s.ciphertext for s in selections])
        rp = prove_range(
            total,
            sum(row),
            total_nonce,
            key,
            contest.min_selections,
            contest.max_selections,
            base,
            contest_context(ci),
            seed,
        )
        contests.append(EncryptedContest(tuple(selections), rp))
    return EncryptedBallot(context.election_id, tuple(contests))


def verify_ballot(context: ElectionContext, ballot: EncryptedBallot) -> None:
    """Check every proof; :class:`InvalidBallot` names the contest/option that fails."""
    manifest = context.manifest
    if ballot.election_id != context.election_id:
        raise InvalidBallot("ballot is for another election")
    if len(ballot.contests) != len(manifest.contests):
        raise InvalidBallot("ballot has the wrong number of contests")
    key, base = context.joint_public_key, context.base_hash
    for ci, (contest, enc) in enumerate(zip(manifest.contests, ballot.contests, strict=True)):
        if len(enc.selections) != len(contest.options):
            raise InvalidBallot(f"{contest.id}: wrong number of options")
        try:
            for oi, sel in enumerate(enc.selections):
                verify_range(sel.proof, sel.ciphertext, key, 0, 1, base, option_context(ci, oi))
            verify_range(
                enc.range_proof,
                enc.total,
                key,
                contest.min_selections,
                contest.max_selections,
                base,
                contest_context(ci),
            )
        except InvalidProof as exc:
            raise InvalidBallot(f"{contest.id}: {exc}") from exc


def open_challenged(
    context: ElectionContext, ballot: EncryptedBallot, master_nonce: bytes
) -> PlaintextBallot:
    """Open a challenged ballot with its revealed master nonce.

    Checks that every ciphertext was made with the nonce derived from ``master_nonce`` and
    encrypts 0 or 1, and returns the choices, which the voter compares with what they chose.
    """
    if len(master_nonce) != 32:
        raise InvalidBallot("a revealed master nonce is 32 bytes")
    key = context.joint_public_key
    rows = []
    for ci, (contest, enc) in enumerate(
        zip(context.manifest.contests, ballot.contests, strict=True)
    ):
        row = []
        for oi, sel in enumerate(enc.selections):
            r = option_nonce(master_nonce, ci, oi)
            if sel.ciphertext.alpha != Point.base_times(r):
                raise InvalidBallot(
                    f"{contest.id}/{contest.options[oi].id}: not encrypted with the revealed nonce"
                )
            m_point = sel.ciphertext.beta - key * r
            if m_point.is_identity:
                row.append(0)
            elif m_point == G:
                row.append(1)
            else:
                raise InvalidBallot(
                    f"{contest.id}/{contest.options[oi].id}: encrypts neither 0 nor 1"
                )
        rows.append(tuple(row))
    return PlaintextBallot(tuple(rows))
