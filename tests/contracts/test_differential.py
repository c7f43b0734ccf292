"""Python's and Solidity's verifiers agree on registrar signatures and token bindings.

Hypothesis generates valid, invalid and edge-case inputs; each is checked by
``election.token`` (raises or not) and by the contract's public view functions (true/false).
"""

from __future__ import annotations

import hashlib
import os

import pytest
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.chain import Chain, Sender
from contracts.client import BallotBox
from election import token as tk
from election.errors import InvalidSignature
from election.primitives import blind_rsa
from election.primitives.group import N

from .suite import Kit, Voter


@pytest.fixture(scope="module")
def setup(registrar_key: blind_rsa.RSAPrivateKey) -> tuple[Kit, BallotBox, list[Voter]]:
    chain = Chain.embedded_tester()
    admin = Sender(chain, Account.create())
    chain.fund([admin.address], 10**20)
    kit = Kit(registrar_key)
    box = kit.deploy(admin, [])
    return kit, box, [kit.voter() for _ in range(3)]


def _python_accepts_signature(kit: Kit, token: bytes, sig: bytes) -> bool:
    try:
        tk.verify_token_signature(kit.registrar.public_key, kit.election_id, token, sig)
    except InvalidSignature:
        return False
    return True


def _signatures(kit: Kit, voters: list[Voter], data: st.DataObject) -> tuple[bytes, bytes]:
    n = kit.registrar.public_key.n
    k = kit.registrar.public_key.size
    voter = data.draw(st.sampled_from(voters))
    kind = data.draw(
        st.sampled_from(
            [
                "valid",
                "other_token",
                "zero",
                "one",
                "n_minus_1",
                "n",
                "short",
                "long",
                "random",
                "bitflip",
                "other_key",
            ]
        )
    )
    token, sig = voter.token.address, voter.signature
    if kind == "other_token":
        token = data.draw(st.sampled_from([v.token.address for v in voters if v is not voter]))
    elif kind == "zero":
        sig = bytes(k)
    elif kind == "one":
        sig = (1).to_bytes(k, "big")
    elif kind == "n_minus_1":
        sig = (n - 1).to_bytes(k, "big")
    elif kind == "n":
        sig = n.to_bytes(k, "big")
    elif kind == "short":
        sig = sig[1:]
    elif kind == "long":
        sig = b"\x00" + sig
    elif kind == "random":
        sig = data.draw(st.binary(min_size=k, max_size=k))
    elif kind == "bitflip":
        i = data.draw(st.integers(0, k * 8 - 1))
        sig = (int.from_bytes(sig, "big") ^ (1 << i)).to_bytes(k, "big")
    elif kind == "other_key":
        sig = OTHER.voter().signature
    return token, sig


OTHER = Kit(blind_rsa.generate_key(2048))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_registrar_signature_verifiers_agree(
    setup: tuple[Kit, BallotBox, list[Voter]], data: st.DataObject
) -> None:
    kit, box, voters = setup
    token, sig = _signatures(kit, voters, data)
    assert box.verify_registrar_signature(token, sig) == _python_accepts_signature(kit, token, sig)


def test_valid_signatures_are_accepted_by_both(setup: tuple[Kit, BallotBox, list[Voter]]) -> None:
    kit, box, voters = setup
    for v in voters:
        assert box.verify_registrar_signature(v.token.address, v.signature)
        assert _python_accepts_signature(kit, v.token.address, v.signature)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data(), ballot=st.binary(min_size=1, max_size=64))
def test_binding_verifiers_agree(
    setup: tuple[Kit, BallotBox, list[Voter]], data: st.DataObject, ballot: bytes
) -> None:
    _, box, voters = setup
    voter = data.draw(st.sampled_from(voters))
    contract = bytes.fromhex(box.address[2:])
    h = hashlib.sha256(ballot).digest()
    sig = tk.sign_binding(voter.token, box.chain.chain_id, contract, h)
    kind = data.draw(
        st.sampled_from(
            [
                "valid",
                "other_token",
                "high_s",
                "v0",
                "v29",
                "zero_r",
                "short",
                "flip",
                "other_chain",
            ]
        )
    )
    token = voter.token.address
    if kind == "other_token":
        token = os.urandom(20)
    elif kind == "high_s":
        s = int.from_bytes(sig[32:64], "big")
        sig = sig[:32] + (N - s).to_bytes(32, "big") + bytes([55 - sig[64]])
    elif kind == "v0":
        sig = sig[:64] + bytes([sig[64] - 27])
    elif kind == "v29":
        sig = sig[:64] + b"\x1d"
    elif kind == "zero_r":
        sig = bytes(32) + sig[32:]
    elif kind == "short":
        sig = sig[:64]
    elif kind == "flip":
        sig = sig[:10] + bytes([sig[10] ^ 0x40]) + sig[11:]
    elif kind == "other_chain":
        sig = tk.sign_binding(voter.token, box.chain.chain_id + 1, contract, h)
    try:
        tk.verify_binding(token, box.chain.chain_id, contract, h, sig)
        python = True
    except InvalidSignature:
        python = False
    assert box.verify_binding(token, h, sig) == python
    if kind == "valid":
        assert python


@pytest.mark.parametrize("bits", [2049, 3072, 4096])
def test_word_wise_pss_agrees_for_other_key_sizes(bits: int) -> None:
    """The word-wise decoder with a modulus that is not 256 bytes, and one whose bit length
    is 1 mod 8 (EM one byte shorter than the modulus)."""
    chain = Chain.embedded_tester()
    admin = Sender(chain, Account.create())
    chain.fund([admin.address], 10**20)
    kit = Kit(blind_rsa.generate_key(bits))
    box = kit.deploy(admin, [])
    assert box.registrar_key()[0] == kit.registrar.public_key.modulus_bytes()
    voters = [kit.voter() for _ in range(2)]
    k = kit.registrar.public_key.size
    for v in voters:
        s = int.from_bytes(v.signature, "big")
        cases = [v.signature] + [
            (s ^ (1 << i)).to_bytes(k, "big") for i in (0, 9, 8 * k // 2, bits - 2)
        ]
        for sig in cases:
            assert box.verify_registrar_signature(
                v.token.address, sig
            ) == _python_accepts_signature(kit, v.token.address, sig)
        assert box.verify_registrar_signature(v.token.address, v.signature)
    assert not box.verify_registrar_signature(voters[0].token.address, voters[1].signature)
