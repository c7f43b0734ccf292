"""JPKI applet constants (see docs/card_reader.md) and APDU helpers shared by the client
and the virtual card."""

from __future__ import annotations

from typing import Final

JPKI_AID: Final = bytes.fromhex("D392F000260100000001")

EF_TOKEN_INFO: Final = 0x0006
EF_SIGN_CERT: Final = 0x0001
EF_SIGN_CA_CERT: Final = 0x0002
EF_AUTH_CERT: Final = 0x000A
EF_AUTH_CA_CERT: Final = 0x000B
EF_AUTH_KEY: Final = 0x0017
EF_AUTH_PIN: Final = 0x0018
EF_SIGN_KEY: Final = 0x001A
EF_SIGN_PIN: Final = 0x001B

SW_OK: Final = 0x9000
SW_SECURITY_NOT_SATISFIED: Final = 0x6982
SW_AUTH_BLOCKED: Final = 0x6983
SW_REF_DATA_NOT_USABLE: Final = 0x6984
SW_FILE_NOT_FOUND: Final = 0x6A82
SW_WRONG_P1P2: Final = 0x6A86
SW_WRONG_LENGTH: Final = 0x6700
SW_INS_NOT_SUPPORTED: Final = 0x6D00
SW_CLA_NOT_SUPPORTED: Final = 0x6E00
SW_CONDITIONS_NOT_SATISFIED: Final = 0x6985

TOKEN_INFO_CARD: Final = b"JPKIAPICCTOKEN2".ljust(32, b" ")

# DigestInfo prefix for SHA-256 (RFC 8017 §9.2 note 1): the card pads this ‖ hash (PKCS#1 v1.5).
SHA256_DIGEST_INFO: Final = bytes.fromhex("3031300d060960864801650304020105000420")

# A real card's ATR (contact interface) from public lists; the virtual card presents it.
JPKI_ATR: Final = bytes.fromhex("3BDA13FF8131FB468012392F31C173C601C03B")


def select_aid(aid: bytes) -> bytes:
    return bytes([0x00, 0xA4, 0x04, 0x0C, len(aid)]) + aid


def select_ef(fid: int) -> bytes:
    return bytes([0x00, 0xA4, 0x02, 0x0C, 0x02]) + fid.to_bytes(2, "big")


def read_binary(offset: int, length: int) -> bytes:
    return bytes([0x00, 0xB0, offset >> 8, offset & 0xFF, length & 0xFF])


def verify(pin: bytes | None) -> bytes:
    if pin is None:
        return bytes([0x00, 0x20, 0x00, 0x80])
    return bytes([0x00, 0x20, 0x00, 0x80, len(pin)]) + pin


def compute_signature(digest_info: bytes) -> bytes:
    return bytes([0x80, 0x2A, 0x00, 0x80, len(digest_info)]) + digest_info + b"\x00"


def der_length(header: bytes) -> int:
    """Total length (header + content) of a DER TLV from its first bytes."""
    if len(header) < 2 or header[0] != 0x30:
        raise ValueError("not a DER SEQUENCE")
    first = header[1]
    if first < 0x80:
        return 2 + first
    count = first & 0x7F
    if count == 0 or count > 3 or len(header) < 2 + count:
        raise ValueError("unsupported DER length")
    return 2 + count + int.from_bytes(header[2 : 2 + count], "big")
