"""The virtual card's applet at the APDU level (no PC/SC needed): JPKI.md's status words."""

from __future__ import annotations

import pytest

from card_reader import apdu as A
from card_reader.testpki import VoterCard
from card_reader.virtual_card import CERT_EF_SIZE, JPKIApplet


@pytest.fixture
def applet(card_template: VoterCard) -> JPKIApplet:
    return JPKIApplet(card_template.to_image())


def sw(answer: bytes) -> int:
    return int.from_bytes(answer[-2:], "big")


def test_unknown_applications_are_not_found(applet: JPKIApplet) -> None:
    for aid in (
        bytes.fromhex("A000000063504B43532D3135"),
        bytes.fromhex("D392F000260100000002"),
        b"\x01",
    ):
        assert sw(applet.process(A.select_aid(aid))) == A.SW_FILE_NOT_FOUND
    assert sw(applet.process(A.select_ef(A.EF_TOKEN_INFO))) == A.SW_FILE_NOT_FOUND  # no AP yet
    assert sw(applet.process(A.select_aid(A.JPKI_AID))) == A.SW_OK
    assert sw(applet.process(A.select_ef(0x1234))) == A.SW_FILE_NOT_FOUND


def test_certificate_efs_are_padded_and_access_controlled(applet: JPKIApplet) -> None:
    applet.process(A.select_aid(A.JPKI_AID))
    applet.process(A.select_ef(A.EF_SIGN_CA_CERT))
    head = applet.process(A.read_binary(0, 8))
    total = A.der_length(head[:-2])
    tail = applet.process(A.read_binary(CERT_EF_SIZE - 16, 16))
    assert total < CERT_EF_SIZE and tail[:-2] == bytes(16)  # padding after the DER
    assert sw(applet.process(A.read_binary(CERT_EF_SIZE - 4, 16))) == 0x6282  # end of file
    applet.process(A.select_ef(A.EF_SIGN_CERT))
    assert sw(applet.process(A.read_binary(0, 8))) == A.SW_SECURITY_NOT_SATISFIED
    applet.process(A.select_ef(A.EF_AUTH_CERT))
    assert sw(applet.process(A.read_binary(0, 8))) == A.SW_OK  # free to read


def test_pin_counter_lock_and_signature_rules(applet: JPKIApplet) -> None:
    applet.process(A.select_aid(A.JPKI_AID))
    applet.process(A.select_ef(A.EF_SIGN_KEY))
    assert (
        sw(applet.process(A.compute_signature(A.SHA256_DIGEST_INFO + bytes(32))))
        == A.SW_SECURITY_NOT_SATISFIED
    )
    applet.process(A.select_ef(A.EF_SIGN_PIN))
    assert sw(applet.process(A.verify(None))) == 0x63C5
    for left in range(4, -1, -1):
        assert sw(applet.process(A.verify(b"WRONG0"))) == 0x63C0 | left
    assert sw(applet.process(A.verify(b"ABC123"))) == A.SW_AUTH_BLOCKED  # locked for good
    assert sw(applet.process(A.verify(None))) == A.SW_AUTH_BLOCKED


def test_malformed_commands(applet: JPKIApplet) -> None:
    assert sw(applet.process(b"\x00\xa4")) == A.SW_WRONG_LENGTH
    assert sw(applet.process(b"\xff\xa4\x04\x0c\x00")) == A.SW_CLA_NOT_SUPPORTED
    assert sw(applet.process(b"\x00\xca\x00\x00\x00")) == A.SW_INS_NOT_SUPPORTED
    assert sw(applet.process(b"\x00\xa4\x04\x0c\x0a\xd3")) == A.SW_WRONG_LENGTH
