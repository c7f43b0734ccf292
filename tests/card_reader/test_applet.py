"""The virtual card's applet at the APDU level (no PC/SC needed): JPKI.md's status words."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding

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


@pytest.mark.parametrize(
    "apdu, data, le, extended",
    [
        ("00A4040C", b"", None, False),  # case 1
        ("00B0000008", b"", 8, False),  # case 2 short
        ("00B0000000", b"", 256, False),
        ("00B00000000800", b"", 2048, True),  # case 2 extended
        ("00B00000000000", b"", 65536, True),
        ("00A4020C020001", b"\x00\x01", None, False),  # case 3 short
        ("00A4020C02000100", b"\x00\x01", 256, False),  # case 4 short
        ("802A0080000002ABCD", b"\xab\xcd", None, True),  # case 3 extended
        ("802A0080000002ABCD0000", b"\xab\xcd", 65536, True),  # case 4 extended
        ("802A0080000002ABCD0100", b"\xab\xcd", 256, True),
    ],
)
def test_apdu_cases(apdu: str, data: bytes, le: int | None, extended: bool) -> None:
    command = A.parse_command(bytes.fromhex(apdu))
    assert (command.data, command.le, command.extended) == (data, le, extended)


@pytest.mark.parametrize(
    "apdu",
    [
        "00A4",
        "00A4040C0AD3",
        "00A4040C0000",
        "00B0000000FF",
        "802A00800000",
        "802A0080000003ABCD",
        "802A0080000002ABCD00",
        "802A0080000002ABCD000000",
    ],
)
def test_inconsistent_lengths_are_6700(applet: JPKIApplet, apdu: str) -> None:
    with pytest.raises(ValueError):
        A.parse_command(bytes.fromhex(apdu))
    assert applet.process(bytes.fromhex(apdu)) == b"\x67\x00"


def _ready(applet: JPKIApplet, fid: int) -> None:
    assert sw(applet.process(A.select_aid(A.JPKI_AID))) == A.SW_OK
    applet.process(A.select_ef(A.EF_SIGN_PIN))
    assert sw(applet.process(A.verify(b"ABC123"))) == A.SW_OK
    assert sw(applet.process(A.select_ef(fid))) == A.SW_OK


def test_extended_le_read_binary_returns_all_it_asks_for(
    applet: JPKIApplet, card_template: VoterCard
) -> None:
    der = card_template.sign_certificate.public_bytes(Encoding.DER)
    _ready(applet, A.EF_SIGN_CERT)
    answer = applet.process(A.read_binary_extended(0, len(der)))
    assert len(der) > 256 and answer == der + b"\x90\x00"  # not cut to 256 bytes
    answer = applet.process(A.read_binary_extended(0, CERT_EF_SIZE))
    assert answer[: len(der)] == der and len(answer) == CERT_EF_SIZE + 2 and sw(answer) == 0x9000
    answer = applet.process(A.read_binary_extended(100, 0))  # Le 0000: up to 65536
    assert answer[:-2] == applet.files[A.EF_SIGN_CERT][100:] and sw(answer) == 0x6282


def test_extended_signature_signs_its_real_payload(
    applet: JPKIApplet, card_template: VoterCard
) -> None:
    digest = hashlib.sha256(b"extended").digest()
    _ready(applet, A.EF_SIGN_KEY)
    answer = applet.process(A.compute_signature_extended(A.SHA256_DIGEST_INFO + digest))
    assert sw(answer) == A.SW_OK and len(answer) == 258
    card_template.sign_certificate.public_key().verify(  # type: ignore[union-attr]
        answer[:-2], b"extended", padding.PKCS1v15(), hashes.SHA256()
    )
    # Case 3E (no Le) is the same command.
    case3e = A.compute_signature_extended(A.SHA256_DIGEST_INFO + digest)[:-2]
    assert applet.process(case3e) == answer


@pytest.mark.parametrize(
    "command",
    [
        A.compute_signature_extended(b""),  # Lc 0000: nothing to sign
        bytes.fromhex("802A0080000000"),  # case 2E: an Le and no data at all
        A.compute_signature(b""),  # short, empty
        A.compute_signature_extended(b"\x01" * 246),  # too long to pad for RSA-2048
        A.compute_signature_extended(A.SHA256_DIGEST_INFO + bytes(32))[:-2] + b"\x00\x40",  # Le 64
    ],
)
def test_signature_commands_it_cannot_execute_are_refused(
    applet: JPKIApplet, command: bytes
) -> None:
    _ready(applet, A.EF_SIGN_KEY)
    assert applet.process(command) == b"\x67\x00"
