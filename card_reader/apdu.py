"""JPKI applet constants (see docs/card_reader.md) and APDU helpers shared by the client
and the virtual card."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class Command:
    """A parsed command APDU (ISO/IEC 7816-4 §5.1: cases 1, 2, 3, 4, short and extended)."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes
    le: int | None
    """Ne, the most response bytes expected (256 for a short ``00``, 65536 for an extended
    ``0000``); ``None`` when the command has no Le field."""
    extended: bool


def parse_command(apdu: bytes) -> Command:
    """Split a command APDU into its fields; ``ValueError`` when its length fields do not
    add up (a card answers ``6700``)."""
    if len(apdu) < 4:
        raise ValueError("shorter than a header")
    cla, ins, p1, p2 = apdu[:4]
    body = apdu[4:]
    n = len(body)
    if n == 0:  # case 1
        return Command(cla, ins, p1, p2, b"", None, False)
    if n == 1:  # case 2 short
        return Command(cla, ins, p1, p2, b"", body[0] or 256, False)
    if body[0] != 0:  # short Lc
        lc = body[0]
        if n == 1 + lc:  # case 3 short
            return Command(cla, ins, p1, p2, body[1:], None, False)
        if n == 2 + lc:  # case 4 short
            return Command(cla, ins, p1, p2, body[1 : 1 + lc], body[-1] or 256, False)
        raise ValueError(f"Lc {lc} does not match {n - 1} bytes after it")
    if n == 3:  # case 2 extended
        return Command(cla, ins, p1, p2, b"", int.from_bytes(body[1:3], "big") or 65536, True)
    if n < 4:
        raise ValueError("a lone zero byte is neither Lc nor Le")
    lc = int.from_bytes(body[1:3], "big")
    if lc == 0:
        raise ValueError("extended Lc of zero")
    if n == 3 + lc:  # case 3 extended
        return Command(cla, ins, p1, p2, body[3:], None, True)
    if n == 5 + lc:  # case 4 extended
        le = int.from_bytes(body[-2:], "big") or 65536
        return Command(cla, ins, p1, p2, body[3 : 3 + lc], le, True)
    raise ValueError(f"extended Lc {lc} does not match {n - 3} bytes after it")


def read_binary_extended(offset: int, length: int) -> bytes:
    """READ BINARY with an extended Le (``00 LL LL``): a whole certificate at once."""
    return bytes([0x00, 0xB0, offset >> 8, offset & 0xFF, 0x00]) + (length % 65536).to_bytes(
        2, "big"
    )


def compute_signature_extended(digest_info: bytes) -> bytes:
    """COMPUTE DIGITAL SIGNATURE as an extended-length command (case 4E)."""
    return (
        bytes([0x80, 0x2A, 0x00, 0x80, 0x00])
        + len(digest_info).to_bytes(2, "big")
        + digest_info
        + b"\x00\x00"
    )


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
