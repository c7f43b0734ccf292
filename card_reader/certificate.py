"""Parse a JPKI signature certificate: the four basic resident attributes, policy, validity.

The attributes sit in subjectAltName ``otherName`` entries under ``1.2.392.200149.8.5.5``:
``.1`` name, ``.2`` substitute characters for the name, ``.3`` gender, ``.4`` date of birth
(an era digit — 0 means unknown — then YYYYMMDD), ``.5`` address, ``.6`` substitute
characters for the address. The substitute attributes are strings of '0'/'1' flags, one per
character of the name / address ('1': that character is a substitute). Each value is a
UTF8String. Anything malformed raises :class:`CertificateError` naming it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from card_reader.errors import CertificateError

_E = TypeVar("_E", bound=x509.ExtensionType)

ATTRIBUTE_ARC = "1.2.392.200149.8.5.5"
OID_NAME = x509.ObjectIdentifier(ATTRIBUTE_ARC + ".1")
OID_NAME_SUBSTITUTE = x509.ObjectIdentifier(ATTRIBUTE_ARC + ".2")
OID_GENDER = x509.ObjectIdentifier(ATTRIBUTE_ARC + ".3")
OID_BIRTH = x509.ObjectIdentifier(ATTRIBUTE_ARC + ".4")
OID_ADDRESS = x509.ObjectIdentifier(ATTRIBUTE_ARC + ".5")
OID_ADDRESS_SUBSTITUTE = x509.ObjectIdentifier(ATTRIBUTE_ARC + ".6")
# J-LIS profile: the signature certificate's policy (class 20), the one J-LIS's test environment
# issues, and the authentication certificate's. ``…1.1`` and ``…1.3`` are only their parent arcs.
POLICY_SIGNATURE = x509.ObjectIdentifier("1.2.392.200149.8.5.1.1.20")
POLICY_SIGNATURE_TEST = x509.ObjectIdentifier("1.2.392.200149.8.5.1.0.20")
POLICY_AUTHENTICATION = x509.ObjectIdentifier("1.2.392.200149.8.5.1.3.30")
SIGNATURE_POLICIES = frozenset(
    {POLICY_SIGNATURE.dotted_string, POLICY_SIGNATURE_TEST.dotted_string}
)

GENDERS = {"1": "male", "2": "female", "3": "unspecified"}
ERA_UNKNOWN = 0
# Japanese eras by their first day; the era digit on the card must match the date.
ERAS = [
    (1, "明治", dt.date(1868, 10, 23)),
    (2, "大正", dt.date(1912, 7, 30)),
    (3, "昭和", dt.date(1926, 12, 25)),
    (4, "平成", dt.date(1989, 1, 8)),
    (5, "令和", dt.date(2019, 5, 1)),
]


def era_of(day: dt.date) -> int:
    digit = 0
    for code, _, start in ERAS:
        if day >= start:
            digit = code
    if digit == 0:
        raise CertificateError(f"date of birth {day} is before the Meiji era")
    return digit


@dataclass(frozen=True)
class JPKIAttributes:
    name: str
    name_substitute: str | None
    """The name's substitute-character flags ('0'/'1' per character), as on the card."""
    gender: str
    """'male', 'female' or 'unspecified' (card codes 1, 2, 3)."""
    date_of_birth: dt.date
    birth_era: int
    """1 明治 … 5 令和; 0 when the era is unknown (the date is then not checked against it)."""
    address: str
    address_substitute: str | None
    """The address's substitute-character flags ('0'/'1' per character)."""
    policy_oids: tuple[str, ...]
    not_before: dt.datetime
    not_after: dt.datetime
    serial: int
    issuer: str
    fingerprint_sha256: bytes
    public_key: rsa.RSAPublicKey

    @property
    def is_signature_certificate(self) -> bool:
        return any(oid in SIGNATURE_POLICIES for oid in self.policy_oids)

    @property
    def name_has_substitutes(self) -> bool:
        """Some character of the name was replaced by a substitute (a help-desk case when
        the name is compared with the roll)."""
        return "1" in (self.name_substitute or "")

    @property
    def address_has_substitutes(self) -> bool:
        return "1" in (self.address_substitute or "")


def encode_utf8_string(text: str) -> bytes:
    """DER UTF8String (tag 0x0C)."""
    data = text.encode("utf-8")
    if len(data) < 0x80:
        return bytes([0x0C, len(data)]) + data
    size = len(data).to_bytes((len(data).bit_length() + 7) // 8, "big")
    return bytes([0x0C, 0x80 | len(size)]) + size + data


def decode_utf8_string(der: bytes, what: str) -> str:
    if len(der) < 2 or der[0] != 0x0C:
        raise CertificateError(f"{what}: not a UTF8String")
    length, pos = der[1], 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 2 or len(der) < 2 + count:
            raise CertificateError(f"{what}: bad DER length")
        length, pos = int.from_bytes(der[2 : 2 + count], "big"), 2 + count
    if len(der) != pos + length:
        raise CertificateError(f"{what}: DER length does not match the value")
    try:
        return der[pos:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CertificateError(f"{what}: not valid UTF-8") from exc


def load_certificate(der: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise CertificateError(f"not a DER X.509 certificate ({exc})") from exc


def _extension(cert: x509.Certificate, cls: type[_E]) -> _E | None:
    try:
        return cert.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None
    except ValueError as exc:  # e.g. a duplicated or undecodable extension
        raise CertificateError(f"malformed extensions ({exc})") from exc


def _flags(value: str | None, what: str) -> str | None:
    if value is not None and value.strip("01"):
        raise CertificateError(f"the {what} substitute flags {value[:20]!r} are not '0'/'1'")
    return value


def parse_signature_certificate(der: bytes) -> JPKIAttributes:
    """The resident attributes and profile fields of a JPKI signature certificate."""
    cert = load_certificate(der)
    san = _extension(cert, x509.SubjectAlternativeName)
    if san is None:
        raise CertificateError("no subjectAltName: not a signature certificate")
    values: dict[str, str] = {}
    for other in san.get_values_for_type(x509.OtherName):
        oid = other.type_id.dotted_string
        if oid.startswith(ATTRIBUTE_ARC + "."):
            if oid in values:
                raise CertificateError(f"attribute {oid} appears twice")
            values[oid] = decode_utf8_string(other.value, f"attribute {oid}")

    def required(oid: x509.ObjectIdentifier, what: str) -> str:
        value = values.get(oid.dotted_string)
        if not value:
            raise CertificateError(f"the {what} attribute ({oid.dotted_string}) is missing")
        return value

    name = required(OID_NAME, "name")
    gender_code = required(OID_GENDER, "gender")
    if gender_code not in GENDERS:
        raise CertificateError(f"gender code {gender_code!r} is not 1, 2 or 3")
    birth = required(OID_BIRTH, "date of birth")
    if len(birth) != 9 or not birth.isascii() or not birth.isdigit():
        raise CertificateError(f"date of birth {birth!r} is not an era digit and YYYYMMDD")
    try:
        born = dt.date(int(birth[1:5]), int(birth[5:7]), int(birth[7:9]))
    except ValueError as exc:
        raise CertificateError(f"date of birth {birth!r} is not a date") from exc
    era = int(birth[0])
    if era > len(ERAS):
        raise CertificateError(f"era digit {era} is not 0 (unknown) or 1–{len(ERAS)}")
    if era != ERA_UNKNOWN and era != era_of(born):
        raise CertificateError(f"era digit {birth[0]} does not match the date {born}")
    address = required(OID_ADDRESS, "address")
    name_flags = _flags(values.get(OID_NAME_SUBSTITUTE.dotted_string), "name")
    address_flags = _flags(values.get(OID_ADDRESS_SUBSTITUTE.dotted_string), "address")
    policies = _extension(cert, x509.CertificatePolicies)
    policy_oids = tuple(p.policy_identifier.dotted_string for p in policies or [])
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise CertificateError("the certificate's key is not RSA")
    try:
        issuer = cert.issuer.rfc4514_string()
    except ValueError as exc:
        raise CertificateError(f"malformed issuer name ({exc})") from exc
    return JPKIAttributes(
        name=name,
        name_substitute=name_flags,
        gender=GENDERS[gender_code],
        date_of_birth=born,
        birth_era=era,
        address=address,
        address_substitute=address_flags,
        policy_oids=policy_oids,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        serial=cert.serial_number,
        issuer=issuer,
        fingerprint_sha256=hashlib.sha256(der).digest(),
        public_key=key,
    )
