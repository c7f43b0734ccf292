"""The key ceremony: joint-Feldman distributed key generation for n trustees, quorum k.

1. Every trustee i picks a secret polynomial P_i of degree k−1 and an auxiliary key pair, and
   publishes an :class:`Announcement`: commitments A_{i,l} = a_{i,l}·G to its coefficients, a
   Schnorr proof of knowledge for each, and its auxiliary public key.
2. Every trustee i sends every other trustee j the share P_i(j), encrypted to j's auxiliary
   key (ECDH on secp256k1 → HKDF-SHA-256 → AES-256-GCM): an :class:`EncryptedShare`, public.
3. Every receiver checks its shares against the dealers' commitments. A bad share produces a
   public :class:`Complaint` that reveals the ECDH secret of that one pair with a proof, so
   anyone can decrypt that share and see who is right. A dealer with an upheld complaint is
   disqualified.
4. The joint key is K = Σ_{i∈QUAL} A_{i,0}. Trustee j's secret share is x_j = Σ_{i∈QUAL} P_i(j);
   its public share X_j = x_j·G is computable by anyone from the commitments. The joint
   secret Σ a_{i,0} is never formed anywhere.

The whole public transcript (announcements, encrypted shares, complaints) goes into the
election record, and :func:`verify_transcript` re-checks it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from election.errors import CeremonyError, InvalidProof, InvalidShare
from election.primitives.group import G, N, Point, sum_points
from election.primitives.hashing import encode, hash_bytes
from election.primitives.proofs import (
    ChaumPedersenProof,
    SchnorrProof,
    prove_equal_logs,
    prove_schnorr,
    verify_equal_logs,
    verify_schnorr,
)


def ceremony_hash(election_id: bytes, trustees: int, quorum: int) -> bytes:
    """What the ceremony's proofs bind to (the base hash does not exist yet: it needs K)."""
    return hash_bytes("ippyo/ceremony", election_id, trustees, quorum)


@dataclass(frozen=True, slots=True)
class Announcement:
    trustee: int
    """i ∈ [1, n]: the trustee's index, also the x-coordinate of its share."""
    aux_public_key: Point
    commitments: tuple[Point, ...]
    """A_{i,l} = a_{i,l}·G for l = 0..k−1."""
    proofs: tuple[SchnorrProof, ...]
    """k + 1 proofs: knowledge of each a_{i,l} (context ``trustee/i/coefficient/l``), then of
    the auxiliary secret key (``trustee/i/aux-key``); base hash :func:`announcement_hash`."""


@dataclass(frozen=True, slots=True)
class EncryptedShare:
    dealer: int
    recipient: int
    nonce: bytes
    """12-byte AES-GCM nonce."""
    ciphertext: bytes
    """AES-GCM(P_dealer(recipient) as 32 bytes) with a 16-byte tag."""


@dataclass(frozen=True, slots=True)
class Complaint:
    accuser: int
    accused: int
    shared_secret: Point
    """S = aux_sk_accuser · aux_pk_accused: reveals the key of this one share only."""
    proof: ChaumPedersenProof
    """log_G(aux_pk_accuser) = log_{aux_pk_accused}(S)."""


def _share_key(shared: Point, ceremony: bytes, dealer: int, recipient: int) -> bytes:
    info = encode("ippyo/share-key", (ceremony, dealer, recipient))
    return HKDF(hashes.SHA256(), 32, salt=None, info=info).derive(shared.to_bytes())


def _aad(ceremony: bytes, dealer: int, recipient: int) -> bytes:
    return encode("ippyo/share-aad", (ceremony, dealer, recipient))


def _eval_commitments(commitments: Sequence[Point], x: int) -> Point:
    """Σ_l x^l · A_l = P(x)·G."""
    terms = [commitments[0]]
    power = 1
    for commitment in commitments[1:]:
        power = power * x % N
        terms.append(commitment * power)
    return sum_points(terms)


class Trustee:
    """One trustee's private side of the ceremony and, later, of the decryption."""

    def __init__(self, index: int, trustees: int, quorum: int, election_id: bytes) -> None:
        if not 1 <= quorum <= trustees or not 1 <= index <= trustees:
            raise CeremonyError(f"trustee {index} of {trustees} with quorum {quorum} is impossible")
        self.index, self.trustees, self.quorum = index, trustees, quorum
        self.ceremony = ceremony_hash(election_id, trustees, quorum)
        self._coefficients = [1 + secrets.randbelow(N - 1) for _ in range(quorum)]
        self._aux_secret = 1 + secrets.randbelow(N - 1)
        self._seed = secrets.token_bytes(32)
        self._received: dict[int, int] = {}
        self._secret_share: int | None = None

    def announce(self) -> Announcement:
        commitments = tuple(Point.base_times(a) for a in self._coefficients)
        aux = Point.base_times(self._aux_secret)
        bound = announcement_hash(self.ceremony, self.index, aux)
        proofs = [
            prove_schnorr(a, A, bound, f"trustee/{self.index}/coefficient/{l}", self._seed)
            for l, (a, A) in enumerate(zip(self._coefficients, commitments, strict=True))  # noqa: E741
        ]
        proofs.append(
            prove_schnorr(self._aux_secret, aux, bound, f"trustee/{self.index}/aux-key", self._seed)
        )
        return Announcement(self.index, aux, commitments, tuple(proofs))

    def _poly(self, x: int) -> int:
        result = 0
        for a in reversed(self._coefficients):
            result = (result * x + a) % N
        return result

    def deal(self, announcements: Sequence[Announcement]) -> list[EncryptedShare]:
        """Encrypted shares for every other trustee (their announcements give the aux keys)."""
        out = []
        for other in announcements:
            if other.trustee == self.index:
                continue
            key = _share_key(
                other.aux_public_key * self._aux_secret, self.ceremony, self.index, other.trustee
            )
            nonce = secrets.token_bytes(12)
            plaintext = self._poly(other.trustee).to_bytes(32, "big")
            ct = AESGCM(key).encrypt(
                nonce, plaintext, _aad(self.ceremony, self.index, other.trustee)
            )
            out.append(EncryptedShare(self.index, other.trustee, nonce, ct))
        return out

    def receive(
        self, announcements: Sequence[Announcement], shares: Iterable[EncryptedShare]
    ) -> list[Complaint]:
        """Decrypt and check the shares addressed to this trustee; complain about bad ones."""
        by_index = {a.trustee: a for a in announcements}
        complaints = []
        self._received = {self.index: self._poly(self.index)}
        mine: dict[int, list[EncryptedShare]] = {}
        for share in shares:
            if share.recipient != self.index:
                continue
            if share.dealer not in by_index:
                raise CeremonyError(f"share from unknown trustee {share.dealer}")
            mine.setdefault(share.dealer, []).append(share)
        for index in sorted(by_index):
            if index == self.index:
                continue
            dealer = by_index[index]
            shared = dealer.aux_public_key * self._aux_secret
            received = mine.get(index, [])
            try:
                # A withheld share (or several for one pair) is a dealer's failure too: the
                # complaint is decided publicly from the transcript (no share → upheld).
                if len(received) != 1:
                    raise InvalidShare(f"trustee {index} sent {len(received)} shares, not 1")
                value = _open_share(received[0], shared, self.ceremony, dealer)
            except InvalidShare:
                proof = prove_equal_logs(
                    self._aux_secret,
                    G,
                    Point.base_times(self._aux_secret),
                    dealer.aux_public_key,
                    shared,
                    self.ceremony,
                    f"complaint/{self.index}/{index}",
                    self._seed,
                )
                complaints.append(Complaint(self.index, index, shared, proof))
                continue
            self._received[index] = value
        return complaints

    def finish(self, qualified: Iterable[int]) -> Point:
        """Form x_j from the qualified dealers' shares; returns the public share X_j."""
        qualified = sorted(qualified)
        missing = [i for i in qualified if i not in self._received]
        if missing:
            raise CeremonyError(f"trustee {self.index} has no valid share from {missing}")
        self._secret_share = sum(self._received[i] for i in qualified) % N
        return Point.base_times(self._secret_share)

    def export_state(self) -> dict[str, Any]:
        """Everything private this trustee holds, as JSON-able data (keep it secret)."""
        return {
            "trustee": self.index,
            "trustees": self.trustees,
            "quorum": self.quorum,
            "coefficients": [f"{a:064x}" for a in self._coefficients],
            "aux_secret": f"{self._aux_secret:064x}",
            "seed": self._seed.hex(),
            "received": {str(i): f"{v:064x}" for i, v in sorted(self._received.items())},
            "secret_share": None if self._secret_share is None else f"{self._secret_share:064x}",
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], election_id: bytes) -> Trustee:
        """The trustee :meth:`export_state` saved; :class:`CeremonyError` if it is malformed."""
        try:
            index, n, k = int(state["trustee"]), int(state["trustees"]), int(state["quorum"])
            t = cls(index, n, k, election_id)
            coefficients = [int(a, 16) % N for a in state["coefficients"]]
            if len(coefficients) != t.quorum:
                raise CeremonyError("wrong number of coefficients")
            t._coefficients = coefficients
            t._aux_secret = int(state["aux_secret"], 16) % N
            t._seed = bytes.fromhex(state["seed"])
            t._received = {int(i): int(v, 16) % N for i, v in state["received"].items()}
            share = state["secret_share"]
            t._secret_share = None if share is None else int(share, 16) % N
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CeremonyError(f"not a trustee state: {type(exc).__name__} {exc}") from exc
        return t

    @property
    def secret_share(self) -> int:
        if self._secret_share is None:
            raise CeremonyError("the ceremony is not finished for this trustee")
        return self._secret_share

    def corrupt_share_for(self, recipient: int) -> None:
        """Test hook: make this dealer's share for ``recipient`` wrong (a cheating trustee)."""
        original = self._poly

        def cheating(x: int) -> int:
            value = original(x)
            return (value + 1) % N if x == recipient else value

        self._poly = cheating  # type: ignore[method-assign]


def _open_share(share: EncryptedShare, shared: Point, ceremony: bytes, dealer: Announcement) -> int:
    key = _share_key(shared, ceremony, share.dealer, share.recipient)
    try:
        plaintext = AESGCM(key).decrypt(
            share.nonce, share.ciphertext, _aad(ceremony, share.dealer, share.recipient)
        )
    except (InvalidTag, ValueError) as exc:
        raise InvalidShare(f"share {share.dealer}→{share.recipient} does not decrypt") from exc
    value = int.from_bytes(plaintext, "big")
    if len(plaintext) != 32 or value >= N:
        raise InvalidShare(f"share {share.dealer}→{share.recipient} is not a scalar")
    if Point.base_times(value) != _eval_commitments(dealer.commitments, share.recipient):
        raise InvalidShare(
            f"share {share.dealer}→{share.recipient} does not match trustee "
            f"{share.dealer}'s commitments"
        )
    return value


def announcement_hash(ceremony: bytes, trustee: int, aux_public_key: Point) -> bytes:
    """What trustee i's proofs bind to: the ceremony, i and i's share encryption key."""
    return hash_bytes("ippyo/announcement", ceremony, trustee, aux_public_key)


def verify_announcement(announcement: Announcement, ceremony: bytes, quorum: int) -> None:
    """k Schnorr proofs (one per coefficient) and one for the share encryption key, all bound
    to :func:`announcement_hash`, so the key cannot be swapped after the fact."""
    i = announcement.trustee
    if len(announcement.commitments) != quorum or len(announcement.proofs) != quorum + 1:
        raise CeremonyError(
            f"trustee {i} must commit to exactly {quorum} coefficients with {quorum + 1} proofs"
        )
    if announcement.aux_public_key.is_identity or any(
        c.is_identity for c in announcement.commitments
    ):
        raise CeremonyError(f"trustee {i} published the identity as a key or commitment")
    bound = announcement_hash(ceremony, i, announcement.aux_public_key)
    statements = [
        (commitment, f"trustee/{i}/coefficient/{l}")
        for l, commitment in enumerate(announcement.commitments)  # noqa: E741
    ] + [(announcement.aux_public_key, f"trustee/{i}/aux-key")]
    for (public, context), proof in zip(statements, announcement.proofs, strict=True):
        try:
            verify_schnorr(proof, public, bound, context)
        except InvalidProof as exc:
            raise CeremonyError(f"trustee {i}: {exc}") from exc


def complaint_upheld(
    complaint: Complaint,
    announcements: Sequence[Announcement],
    shares: Sequence[EncryptedShare],
    ceremony: bytes,
) -> bool:
    """Decide a complaint from public data alone. ``True``: the dealer cheated.

    A complaint whose proof fails is itself invalid (raises :class:`CeremonyError`).
    """
    by_index = {a.trustee: a for a in announcements}
    accuser, accused = by_index.get(complaint.accuser), by_index.get(complaint.accused)
    if accuser is None or accused is None:
        raise CeremonyError("complaint names an unknown trustee")
    try:
        verify_equal_logs(
            complaint.proof,
            G,
            accuser.aux_public_key,
            accused.aux_public_key,
            complaint.shared_secret,
            ceremony,
            f"complaint/{complaint.accuser}/{complaint.accused}",
        )
    except InvalidProof as exc:
        raise CeremonyError(f"complaint by trustee {complaint.accuser} is not proven") from exc
    matching = [
        s for s in shares if s.dealer == complaint.accused and s.recipient == complaint.accuser
    ]
    if len(matching) != 1:
        return True  # no share (or several) was sent: the dealer failed
    try:
        _open_share(matching[0], complaint.shared_secret, ceremony, accused)
    except InvalidShare:
        return True
    return False


def transcript_gaps(
    trustees: int,
    shares: Sequence[EncryptedShare],
    complaints: Sequence[Complaint],
    upheld: Iterable[tuple[int, int]] = (),
) -> list[str]:
    """What makes a transcript incomplete or malformed; empty when it is whole.

    Every dealer i must send exactly one share to every other trustee j (12-byte nonce,
    48-byte ciphertext: 32-byte scalar + 16-byte tag), unless j's complaint against i was
    upheld (``upheld`` holds (accuser, accused) pairs). No share names an unknown trustee or
    goes to its own dealer; no pair is complained about twice.
    """
    gaps: list[str] = []
    upheld_pairs = set(upheld)
    seen: dict[tuple[int, int], int] = {}
    for s in shares:
        pair = (s.dealer, s.recipient)
        if not (1 <= s.dealer <= trustees and 1 <= s.recipient <= trustees):
            gaps.append(f"share {s.dealer}→{s.recipient} names an unknown trustee")
            continue
        if s.dealer == s.recipient:
            gaps.append(f"share {s.dealer}→{s.recipient} is addressed to its own dealer")
        if len(s.nonce) != 12 or len(s.ciphertext) != 48:
            gaps.append(
                f"share {s.dealer}→{s.recipient} must have a 12-byte nonce and a 48-byte ciphertext"
            )
        seen[pair] = seen.get(pair, 0) + 1
    for pair, count in sorted(seen.items()):
        if count > 1:
            gaps.append(f"share {pair[0]}→{pair[1]} appears {count} times")
    complained: set[tuple[int, int]] = set()
    for c in complaints:
        if (c.accuser, c.accused) in complained:
            gaps.append(f"trustee {c.accuser} complains twice about trustee {c.accused}")
        complained.add((c.accuser, c.accused))
    for dealer in range(1, trustees + 1):
        for recipient in range(1, trustees + 1):
            if dealer == recipient or (dealer, recipient) in seen:
                continue
            if (recipient, dealer) not in upheld_pairs:
                gaps.append(
                    f"trustee {dealer} sent no share to trustee {recipient} and no upheld "
                    "complaint resolves it"
                )
    return gaps


@dataclass(frozen=True, slots=True)
class CeremonyResult:
    qualified: tuple[int, ...]
    joint_public_key: Point
    public_shares: dict[int, Point]
    """X_j for every trustee j (qualified or not: every trustee holds a share)."""


def verify_transcript(
    election_id: bytes,
    trustees: int,
    quorum: int,
    announcements: Sequence[Announcement],
    shares: Sequence[EncryptedShare],
    complaints: Sequence[Complaint],
) -> CeremonyResult:
    """Re-check a whole ceremony from its public transcript; returns QUAL, K and every X_j."""
    ceremony = ceremony_hash(election_id, trustees, quorum)
    indices = sorted(a.trustee for a in announcements)
    if indices != list(range(1, trustees + 1)):
        raise CeremonyError(f"announcements must come from trustees 1..{trustees}, got {indices}")
    for announcement in announcements:
        verify_announcement(announcement, ceremony, quorum)
    upheld = [
        (c.accuser, c.accused)
        for c in complaints
        if complaint_upheld(c, announcements, shares, ceremony)
    ]
    gaps = transcript_gaps(trustees, shares, complaints, upheld)
    if gaps:
        raise CeremonyError(gaps[0])
    disqualified = {accused for _, accused in upheld}
    qualified = tuple(i for i in indices if i not in disqualified)
    if len(qualified) < quorum:
        raise CeremonyError(f"only {len(qualified)} trustees qualified; the quorum is {quorum}")
    by_index = {a.trustee: a for a in announcements}
    joint = sum_points([by_index[i].commitments[0] for i in qualified])
    public_shares = {
        j: sum_points([_eval_commitments(by_index[i].commitments, j) for i in qualified])
        for j in indices
    }
    return CeremonyResult(qualified, joint, public_shares)


def run_ceremony(
    election_id: bytes,
    trustees: int,
    quorum: int,
    *,
    cheat: tuple[int, int] | None = None,
    withhold: tuple[int, int] | None = None,
) -> tuple[
    list[Trustee], list[Announcement], list[EncryptedShare], list[Complaint], CeremonyResult
]:
    """Run every step in one process (demo, tests).

    ``cheat=(dealer, victim)`` makes one dealer send one bad share; ``withhold=(dealer,
    victim)`` makes one dealer send the victim no share at all (the victim complains publicly).
    """
    people = [Trustee(i, trustees, quorum, election_id) for i in range(1, trustees + 1)]
    if cheat is not None:
        people[cheat[0] - 1].corrupt_share_for(cheat[1])
    announcements = [t.announce() for t in people]
    shares = [s for t in people for s in t.deal(announcements)]
    if withhold is not None:
        shares = [s for s in shares if (s.dealer, s.recipient) != withhold]
    complaints = [c for t in people for c in t.receive(announcements, shares)]
    result = verify_transcript(election_id, trustees, quorum, announcements, shares, complaints)
    for t in people:
        if t.finish(result.qualified) != result.public_shares[t.index]:
            raise CeremonyError(f"trustee {t.index}'s share does not match its public share")
    return people, announcements, shares, complaints, result
