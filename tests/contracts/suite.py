"""The BallotBox conformance suite: one class of tests, run on every chain backend.

``tests/contracts/test_eth_tester.py`` runs it on the embedded chain, and
``tests/devnet/test_devnet.py`` on three real geth nodes. A backend provides the ``chain``
fixture and ``senders`` (funded accounts: admin, kiosk, others).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import pytest

from contracts.chain import Chain, Sender
from contracts.client import BallotBox, ContractRevert, Phase, predict_address
from election import token as tk
from election.primitives import blind_rsa


@dataclass
class Voter:
    token: tk.TokenKey
    signature: bytes


class Kit:
    """Registrar key, election id and helpers to make real tokens and bindings."""

    def __init__(self, registrar: blind_rsa.RSAPrivateKey) -> None:
        self.registrar = registrar
        self.election_id = os.urandom(32)

    def voter(self) -> Voter:
        pk = self.registrar.public_key
        token, blinding = tk.blind_token(pk, self.election_id, os.urandom(256))
        blind_sig = blind_rsa.blind_sign(self.registrar, blinding.blinded_msg)
        return Voter(token, tk.finalize_token(pk, self.election_id, token, blind_sig, blinding))

    def bind(self, box: BallotBox, voter: Voter, ballot: bytes) -> bytes:
        return tk.sign_binding(
            voter.token,
            box.chain.chain_id,
            bytes.fromhex(box.address[2:]),
            hashlib.sha256(ballot).digest(),
        )

    def deploy(self, admin: Sender, kiosks: list[Sender], *, revote: bool = False) -> BallotBox:
        pk = self.registrar.public_key
        return BallotBox.deploy(
            admin,
            election_id=self.election_id,
            base_hash=os.urandom(32),
            registrar_modulus=pk.modulus_bytes(),
            registrar_exponent=pk.exponent_bytes(),
            revote_allowed=revote,
            kiosks=[k.address for k in kiosks],
        )


def ballot_bytes(size: int = 1070) -> bytes:
    return os.urandom(size)


class BallotBoxSuite:
    @pytest.fixture
    def kit(self, registrar_key: blind_rsa.RSAPrivateKey) -> Kit:
        return Kit(registrar_key)

    @pytest.fixture
    def box(self, kit: Kit, senders: list[Sender]) -> BallotBox:
        box = kit.deploy(senders[0], [senders[1]])
        box.open(senders[0])
        return box

    def test_deployment_pins_the_election(
        self, kit: Kit, senders: list[Sender], chain: Chain
    ) -> None:
        admin, kiosk = senders[0], senders[1]
        nonce = chain.call(lambda w3: w3.eth.get_transaction_count(admin.address, "pending"))
        expected = predict_address(admin.address, nonce)
        box = kit.deploy(admin, [kiosk])
        assert bytes.fromhex(box.address[2:]) == expected
        assert box.election_id() == kit.election_id
        assert box.registrar_key() == (
            kit.registrar.public_key.modulus_bytes(),
            kit.registrar.public_key.exponent_bytes(),
        )
        assert box.kiosks() == [kiosk.address]
        assert box.revote_allowed() is False
        assert box.phase() is Phase.SETUP

    def test_cast_and_read_back(self, kit: Kit, box: BallotBox, senders: list[Sender]) -> None:
        voters = [kit.voter() for _ in range(3)]
        ballots = [ballot_bytes() for _ in voters]
        receipts = [
            box.cast_ballot(senders[1], v.token.address, v.signature, b, kit.bind(box, v, b))
            for v, b in zip(voters, ballots, strict=True)
        ]
        assert [r.seq for r in receipts] == [0, 1, 2]
        read = box.cast_ballots()
        assert [c.ballot for c in read] == ballots
        assert [c.token for c in read] == [v.token.address for v in voters]
        assert read[0].token_signature == voters[0].signature
        assert box.ballot_of(voters[1].token.address) == hashlib.sha256(ballots[1]).digest()
        assert box.ballot_count() == 3

    def test_phases_move_only_forward_and_only_by_admin(
        self, kit: Kit, senders: list[Sender]
    ) -> None:
        admin, kiosk = senders[0], senders[1]
        box = kit.deploy(admin, [kiosk])
        with pytest.raises(ContractRevert, match="NotAdmin"):
            box.open(kiosk)
        with pytest.raises(ContractRevert, match="WrongPhase") as info:
            box.close(admin)
        assert info.value.args_decoded == ("setup", "open")
        voter = kit.voter()
        ballot = ballot_bytes()
        with pytest.raises(ContractRevert, match="WrongPhase"):
            box.cast_ballot(
                kiosk, voter.token.address, voter.signature, ballot, kit.bind(box, voter, ballot)
            )
        box.open(admin)
        with pytest.raises(ContractRevert, match="WrongPhase"):
            box.publish_result(admin, b"result", bytes(32))
        box.close(admin)
        with pytest.raises(ContractRevert, match="WrongPhase"):
            box.cast_ballot(
                kiosk, voter.token.address, voter.signature, ballot, kit.bind(box, voter, ballot)
            )
        with pytest.raises(ContractRevert, match="NotAdmin"):
            box.publish_result(kiosk, b"result", bytes(32))
        box.publish_result(admin, b'{"mayor":{"sato":3}}', b"\x07" * 32)
        assert box.phase() is Phase.TALLIED
        with pytest.raises(ContractRevert, match="WrongPhase"):
            box.open(admin)

    def test_every_cast_refusal(self, kit: Kit, box: BallotBox, senders: list[Sender]) -> None:
        kiosk = senders[1]
        voter, other = kit.voter(), kit.voter()
        ballot = ballot_bytes()
        with pytest.raises(ContractRevert, match="EmptyBallot"):
            box.cast_ballot(
                kiosk, voter.token.address, voter.signature, b"", kit.bind(box, voter, b"")
            )
        with pytest.raises(ContractRevert, match="InvalidBindingSignature"):
            box.cast_ballot(
                kiosk, voter.token.address, voter.signature, ballot, kit.bind(box, other, ballot)
            )
        with pytest.raises(ContractRevert, match="InvalidRegistrarSignature"):
            box.cast_ballot(
                kiosk, voter.token.address, other.signature, ballot, kit.bind(box, voter, ballot)
            )
        stranger = Kit(blind_rsa.generate_key(2048)).voter()  # a token from another registrar
        with pytest.raises(ContractRevert, match="InvalidRegistrarSignature"):
            box.cast_ballot(
                kiosk,
                stranger.token.address,
                stranger.signature,
                ballot,
                kit.bind(box, stranger, ballot),
            )
        box.cast_ballot(
            kiosk, voter.token.address, voter.signature, ballot, kit.bind(box, voter, ballot)
        )
        again = ballot_bytes()
        with pytest.raises(ContractRevert, match="TokenAlreadyUsed"):
            box.cast_ballot(
                kiosk, voter.token.address, voter.signature, again, kit.bind(box, voter, again)
            )
        assert box.ballot_count() == 1

    def test_front_running_cannot_swap_the_ballot(
        self, kit: Kit, box: BallotBox, senders: list[Sender]
    ) -> None:
        """Whoever sees a pending cast (token, signatures, ballot) cannot reuse the token for
        another ballot, nor the binding on another chain or contract."""
        voter = kit.voter()
        ballot, evil = ballot_bytes(), ballot_bytes()
        binding = kit.bind(box, voter, ballot)
        with pytest.raises(ContractRevert, match="InvalidBindingSignature"):
            box.cast_ballot(senders[2], voter.token.address, voter.signature, evil, binding)
        other_box = kit.deploy(senders[0], [senders[1]])
        other_box.open(senders[0])
        with pytest.raises(ContractRevert, match="InvalidBindingSignature"):
            other_box.cast_ballot(senders[2], voter.token.address, voter.signature, ballot, binding)
        box.cast_ballot(senders[2], voter.token.address, voter.signature, ballot, binding)

    def test_revote_policy_supersedes_and_refuses_replay(
        self, kit: Kit, senders: list[Sender]
    ) -> None:
        admin, kiosk = senders[0], senders[1]
        box = kit.deploy(admin, [kiosk], revote=True)
        box.open(admin)
        voter = kit.voter()
        first, second = ballot_bytes(), ballot_bytes()
        box.cast_ballot(
            kiosk, voter.token.address, voter.signature, first, kit.bind(box, voter, first)
        )
        box.cast_ballot(
            kiosk, voter.token.address, voter.signature, second, kit.bind(box, voter, second)
        )
        assert box.ballot_of(voter.token.address) == hashlib.sha256(second).digest()
        assert box.superseded() == [
            (voter.token.address, hashlib.sha256(first).digest(), hashlib.sha256(second).digest())
        ]
        # Replaying the voter's first ballot must not bring it back.
        with pytest.raises(ContractRevert, match="BallotAlreadyCast"):
            box.cast_ballot(
                kiosk, voter.token.address, voter.signature, first, kit.bind(box, voter, first)
            )
        assert [c.seq for c in box.cast_ballots()] == [0, 1]

    def test_challenge_only_from_kiosks(self, box: BallotBox, senders: list[Sender]) -> None:
        ballot, nonce = ballot_bytes(), os.urandom(32)
        with pytest.raises(ContractRevert, match="NotKiosk"):
            box.challenge_ballot(senders[2], ballot, nonce)
        with pytest.raises(ContractRevert, match="EmptyBallot"):
            box.challenge_ballot(senders[1], b"", nonce)
        box.challenge_ballot(senders[1], ballot, nonce)
        [challenged] = box.challenged_ballots()
        assert (challenged.ballot, challenged.master_nonce) == (ballot, nonce)
        assert challenged.kiosk == senders[1].address
        assert box.ballot_count() == 0  # a checked ballot never counts

    def test_checked_and_cast_ballots_exclude_each_other(
        self, kit: Kit, box: BallotBox, senders: list[Sender]
    ) -> None:
        """A checked (challenged) ballot's nonce is public: the token it was checked for can
        never cast it; and a token's counted ballot cannot afterwards be published as a
        checked one. A check does not spend the token."""
        kiosk = senders[1]
        voter, other = kit.voter(), kit.voter()
        checked, counted, fresh = ballot_bytes(), ballot_bytes(), ballot_bytes()
        box.challenge_ballot(kiosk, checked, os.urandom(32), token=voter.token.address)
        assert box.ballot_of(voter.token.address) is None
        assert box.challenged_count() == 1
        with pytest.raises(ContractRevert, match="BallotWasChallenged") as info:
            box.cast_ballot(
                kiosk, voter.token.address, voter.signature, checked, kit.bind(box, voter, checked)
            )
        assert info.value.args_decoded == (hashlib.sha256(checked).digest(),)
        with pytest.raises(ContractRevert, match="BallotWasChallenged"):
            box.challenge_ballot(kiosk, checked, os.urandom(32))
        box.cast_ballot(
            kiosk, voter.token.address, voter.signature, fresh, kit.bind(box, voter, fresh)
        )
        assert box.ballot_of(voter.token.address) == hashlib.sha256(fresh).digest()
        box.cast_ballot(
            kiosk, other.token.address, other.signature, counted, kit.bind(box, other, counted)
        )
        with pytest.raises(ContractRevert, match="BallotAlreadyCast") as info:
            box.challenge_ballot(kiosk, counted, os.urandom(32), token=other.token.address)
        assert info.value.args_decoded == (hashlib.sha256(counted).digest(),)
        assert box.ballot_count() == 2
        assert box.challenged_count() == 1
        assert [c.ballot for c in box.challenged_ballots()] == [checked]

    def test_marks_after_a_revote(self, kit: Kit, senders: list[Sender]) -> None:
        """With re-voting, a token that already cast still meets every mark: a superseded
        ballot can be neither replayed (by anyone) nor published as checked, and a ballot
        checked for the token cannot become its new counted ballot."""
        admin, kiosk = senders[0], senders[1]
        box = kit.deploy(admin, [kiosk], revote=True)
        box.open(admin)
        voter, copier = kit.voter(), kit.voter()
        first, second, checked = ballot_bytes(), ballot_bytes(), ballot_bytes()
        for ballot in (first, second):
            box.cast_ballot(
                kiosk, voter.token.address, voter.signature, ballot, kit.bind(box, voter, ballot)
            )
        with pytest.raises(ContractRevert, match="BallotAlreadyCast"):  # its counted ballot
            box.cast_ballot(
                kiosk, voter.token.address, voter.signature, second, kit.bind(box, voter, second)
            )
        for token in (None, voter.token.address):
            with pytest.raises(ContractRevert, match="BallotAlreadyCast"):  # superseded
                box.challenge_ballot(kiosk, first, os.urandom(32), token=token)
        with pytest.raises(ContractRevert, match="BallotAlreadyCast"):  # counted, named
            box.challenge_ballot(kiosk, second, os.urandom(32), token=voter.token.address)
        box.challenge_ballot(kiosk, checked, os.urandom(32), token=voter.token.address)
        assert box.ballot_of(voter.token.address) == hashlib.sha256(second).digest()
        with pytest.raises(ContractRevert, match="BallotWasChallenged"):
            box.cast_ballot(
                kiosk, voter.token.address, voter.signature, checked, kit.bind(box, voter, checked)
            )
        # A token with a history (here: a re-vote) is refused a superseded ballot too.
        box.cast_ballot(
            kiosk,
            copier.token.address,
            copier.signature,
            checked[::-1],
            kit.bind(box, copier, checked[::-1]),
        )
        with pytest.raises(ContractRevert, match="BallotAlreadyCast"):
            box.cast_ballot(
                kiosk, copier.token.address, copier.signature, first, kit.bind(box, copier, first)
            )
        assert box.ballot_count() == 3

    def test_what_the_contract_leaves_to_the_verifier(
        self, kit: Kit, box: BallotBox, senders: list[Sender]
    ) -> None:
        """One storage slot per token (docs/chain.md): a token with no history is not checked
        against other tokens' ballots. A checked ballot cast by a token it was not checked for
        is accepted — the records' rule excludes it (its hash is a checked ballot's), and only
        that token's own vote is lost; a copy of another token's counted ballot is accepted
        and is its own token's ballot."""
        kiosk = senders[1]
        voter, stranger, copier = kit.voter(), kit.voter(), kit.voter()
        checked, counted = ballot_bytes(), ballot_bytes()
        box.challenge_ballot(kiosk, checked, os.urandom(32), token=voter.token.address)
        box.cast_ballot(
            kiosk,
            stranger.token.address,
            stranger.signature,
            checked,
            kit.bind(box, stranger, checked),
        )
        box.cast_ballot(
            kiosk, voter.token.address, voter.signature, counted, kit.bind(box, voter, counted)
        )
        box.cast_ballot(
            kiosk, copier.token.address, copier.signature, counted, kit.bind(box, copier, counted)
        )
        cast = box.cast_ballots()
        checked_hashes = {c.ballot_hash for c in box.challenged_ballots()}
        assert [c.ballot_hash in checked_hashes for c in cast] == [True, False, False]
        assert [c.token for c in cast] == [
            stranger.token.address,
            voter.token.address,
            copier.token.address,
        ]

    def test_bad_configuration_is_refused(self, kit: Kit, senders: list[Sender]) -> None:
        pk = kit.registrar.public_key
        odd_top = b"\xff" + os.urandom(510) + b"\x01"  # 4096 bits
        cases: list[tuple[bytes, bytes, str, tuple[object, ...] | str]] = [
            (pk.modulus_bytes()[:128], pk.exponent_bytes(), "RegistrarKeySize", (1024,)),
            (b"\x7f" + pk.modulus_bytes()[1:], pk.exponent_bytes(), "RegistrarKeySize", (2047,)),
            (b"\x01" + odd_top, pk.exponent_bytes(), "RegistrarKeySize", (4097,)),
            (odd_top, b"\x03", "RegistrarExponentNot65537", ()),
            (pk.modulus_bytes(), b"\x03", "RegistrarExponentNot65537", ()),
            (pk.modulus_bytes(), b"\x01", "RegistrarExponentNot65537", ()),
            (pk.modulus_bytes(), b"\x00\x01\x00\x01", "RegistrarExponentNot65537", ()),
            (pk.modulus_bytes(), b"", "RegistrarExponentNot65537", ()),
            (
                b"\x00" + pk.modulus_bytes()[1:],
                pk.exponent_bytes(),
                "InvalidConfiguration",
                "leading zero",
            ),
            (
                pk.modulus_bytes()[:-1] + b"\x02",
                pk.exponent_bytes(),
                "InvalidConfiguration",
                "even",
            ),
        ]
        for modulus, exponent, name, expected in cases:
            with pytest.raises(ContractRevert, match=name) as info:
                BallotBox.deploy(
                    senders[0],
                    election_id=kit.election_id,
                    base_hash=b"\x01" * 32,
                    registrar_modulus=modulus,
                    registrar_exponent=exponent,
                    revote_allowed=False,
                    kiosks=[],
                )
            assert info.value.name == name
            if isinstance(expected, str):
                assert expected in str(info.value.args_decoded)
            else:
                assert info.value.args_decoded == expected
        # The boundaries themselves are accepted: 4096 bits with e = 65537.
        box = BallotBox.deploy(
            senders[0],
            election_id=kit.election_id,
            base_hash=b"\x01" * 32,
            registrar_modulus=odd_top,
            registrar_exponent=b"\x01\x00\x01",
            revote_allowed=False,
            kiosks=[],
        )
        assert box.registrar_key() == (odd_top, b"\x01\x00\x01")
