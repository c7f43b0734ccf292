"""Test PKI for J-LIS-profile certificates: the signature CA and the separate authentication CA
(with J-LIS's DNs), voter certificates with all six resident attributes, CRLs, and card images
for the virtual card.

The profile follows J-LIS's (see docs/card_reader.md): issuer ``C=JP, O=JPKI, OU=JPKI for
digital signature, OU=Japan Agency for Local Authority Information Systems``, critical
certificatePolicies (class 20 with a CPS qualifier), subjectAltName otherName ``.1``–``.6``,
issuerAltName ``C=JP, O=公的個人認証サービス``, a CRL distribution point (a directory name),
authority and subject key identifiers. Two CAs may share a DN (J-LIS's 2015 and 2023
generations do): each ``create()`` makes a new key unless one is given.

TEST CARDS ONLY. A card image holds private keys and PINs in a file; it exists so that
developers, CI and demos can run the real PC/SC stack without a real card. Real My Number cards
never reveal their keys.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from card_reader.certificate import (
    OID_ADDRESS,
    OID_ADDRESS_SUBSTITUTE,
    OID_BIRTH,
    OID_GENDER,
    OID_NAME,
    OID_NAME_SUBSTITUTE,
    POLICY_AUTHENTICATION,
    POLICY_SIGNATURE,
    encode_utf8_string,
    era_of,
)

IMAGE_FORMAT = "ippyo/jpki-test-card-image"
WARNING = (
    "TEST CARD ONLY — this file holds private keys and PINs of a virtual card. "
    "テスト用カード専用：秘密鍵と暗証番号を含みます。"
)
_GENDER_CODES = {"male": "1", "female": "2", "unspecified": "3"}

JLIS = "Japan Agency for Local Authority Information Systems"
SIGNATURE_CA_UNIT = "JPKI for digital signature"
AUTHENTICATION_CA_UNIT = "JPKI for user authentication"
CPS_URI = "http://www.jpki.go.jp/cps.html"
ISSUER_ALT_NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "公的個人認証サービス"),
    ]
)
_CA_ALT_UNITS = {
    "signature": "公的個人認証サービス署名用",
    "authentication": "公的個人認証サービス利用者証明用",
}


def jpki_ca_name(unit: str = SIGNATURE_CA_UNIT) -> x509.Name:
    """J-LIS's CA DN: ``C=JP, O=JPKI, OU=<unit>, OU=Japan Agency for …``."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, JLIS),
        ]
    )


def _directory_point(name: x509.Name) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints(
        [x509.DistributionPoint([x509.DirectoryName(name)], None, None, None)]
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def new_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, bits)


@dataclass
class CertificateAuthority:
    """A JPKI-profile CA (signature or authentication)."""

    certificate: x509.Certificate
    key: rsa.RSAPrivateKey

    kind: str = "signature"
    """'signature' or 'authentication'."""
    generation: int | None = None
    """A label such as 2015 or 2023: J-LIS's CA generations share one DN, not one key."""

    @classmethod
    def create(
        cls,
        name: str | None = None,
        *,
        days: int = 3650,
        not_before: dt.datetime | None = None,
        kind: str = "signature",
        key: rsa.RSAPrivateKey | None = None,
        generation: int | None = None,
    ) -> CertificateAuthority:
        """A self-signed CA with J-LIS's profile. ``name=None`` gives J-LIS's own DN for
        ``kind`` ('signature': "JPKI for digital signature", 'authentication': "JPKI for user
        authentication"); another ``name`` replaces that unit (a CA of another DN). Each call
        makes a new key unless ``key`` is given, so two calls give two CAs of one DN."""
        if kind not in _CA_ALT_UNITS:
            raise ValueError(f"kind must be 'signature' or 'authentication', not {kind!r}")
        key = key or new_key()
        start = not_before or _now() - dt.timedelta(days=1)
        default_unit = SIGNATURE_CA_UNIT if kind == "signature" else AUTHENTICATION_CA_UNIT
        subject = jpki_ca_name(name or default_unit)
        alt = x509.Name(
            [
                *ISSUER_ALT_NAME,
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, _CA_ALT_UNITS[kind]),
                x509.NameAttribute(
                    NameOID.ORGANIZATIONAL_UNIT_NAME, "地方公共団体情報システム機構"
                ),
            ]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=days))
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .add_extension(x509.SubjectAlternativeName([x509.DirectoryName(alt)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_directory_point(subject), critical=False)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key, kind, generation)

    @property
    def key_identifier(self) -> bytes:
        """The subject key identifier: what an end-entity's authority key identifier names."""
        ski = self.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        return ski.value.digest

    def crl(
        self,
        revoked_serials: list[int] | None = None,
        *,
        this_update: dt.datetime | None = None,
        next_update: dt.datetime | None = None,
        crl_number: int | None = None,
    ) -> x509.CertificateRevocationList:
        """A CRL revoking ``revoked_serials``; choose the dates to make it fresh or stale. It
        carries the CA's authority key identifier, so a relying party finds its CA by key."""
        this_update = this_update or _now() - dt.timedelta(minutes=5)
        next_update = next_update or this_update + dt.timedelta(days=1)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.certificate.subject)
            .last_update(this_update)
            .next_update(next_update)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .add_extension(x509.CRLNumber(crl_number or int(this_update.timestamp())), False)
        )
        for serial in revoked_serials or []:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(this_update)
                .build()
            )
        return builder.sign(self.key, hashes.SHA256())

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "ca.pem").write_bytes(
            self.certificate.public_bytes(serialization.Encoding.PEM)
        )
        _write_private(directory / "ca-key.pem", _key_pem(self.key))

    @classmethod
    def load(cls, directory: Path) -> CertificateAuthority:
        cert = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
        key = serialization.load_pem_private_key((directory / "ca-key.pem").read_bytes(), None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the CA key is not RSA")
        units = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
        kind = (
            "authentication"
            if any(u.value == AUTHENTICATION_CA_UNIT for u in units)
            else "signature"
        )
        return cls(cert, key, kind)


@dataclass
class Resident:
    """The four basic attributes as the resident register holds them.

    ``name_substitute`` / ``address_substitute`` are J-LIS's substitute-character flags: one
    '0' or '1' per character ('1' = that character was replaced by a substitute). ``None``
    means no substitutes (all '0'). ``birth_era`` overrides the era digit (0 = unknown)."""

    name: str = "山田 花子"
    gender: str = "female"
    date_of_birth: dt.date = dt.date(1985, 4, 1)
    address: str = "茨城県つくば市研究学園一丁目1番地1"
    name_substitute: str | None = None
    address_substitute: str | None = None
    birth_era: int | None = None

    def substitute_flags(self) -> tuple[str, str]:
        return (
            self.name_substitute if self.name_substitute is not None else "0" * len(self.name),
            self.address_substitute
            if self.address_substitute is not None
            else "0" * len(self.address),
        )


@dataclass
class VoterCard:
    """What a card holds: both certificates with their keys, and the PINs."""

    resident: Resident
    sign_certificate: x509.Certificate
    sign_key: rsa.RSAPrivateKey
    sign_ca: x509.Certificate
    auth_certificate: x509.Certificate
    auth_key: rsa.RSAPrivateKey
    auth_ca: x509.Certificate
    sign_pin: str = "ABC123"
    auth_pin: str = "1234"
    sign_tries_left: int = 5
    auth_tries_left: int = 3
    extra: dict[str, Any] = field(default_factory=dict)

    def to_image(self) -> dict[str, Any]:
        der = serialization.Encoding.DER
        return {
            "format": IMAGE_FORMAT,
            "version": 1,
            "warning": WARNING,
            "signature": {
                "certificate": _b64(self.sign_certificate.public_bytes(der)),
                "ca_certificate": _b64(self.sign_ca.public_bytes(der)),
                "key": _key_pem(self.sign_key).decode(),
                "pin": self.sign_pin,
                "tries_left": self.sign_tries_left,
            },
            "authentication": {
                "certificate": _b64(self.auth_certificate.public_bytes(der)),
                "ca_certificate": _b64(self.auth_ca.public_bytes(der)),
                "key": _key_pem(self.auth_key).decode(),
                "pin": self.auth_pin,
                "tries_left": self.auth_tries_left,
            },
        }

    def save(self, path: Path) -> None:
        """Write the card image (mode 0600): TEST CARD ONLY, it holds private keys."""
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_private(path, json.dumps(self.to_image(), ensure_ascii=False, indent=1).encode())


def _common_extensions(
    builder: x509.CertificateBuilder, ca: CertificateAuthority, key: rsa.RSAPrivateKey
) -> x509.CertificateBuilder:
    """issuerAltName, CRL distribution point (a directory name), AKI and SKI."""
    point = x509.Name(
        [
            *ca.certificate.subject,
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "CRL Distribution Points"),
        ]
    )
    return (
        builder.add_extension(
            x509.IssuerAlternativeName([x509.DirectoryName(ISSUER_ALT_NAME)]), critical=False
        )
        .add_extension(_directory_point(point), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )


def _policies(policy: x509.ObjectIdentifier) -> x509.CertificatePolicies:
    return x509.CertificatePolicies([x509.PolicyInformation(policy, [CPS_URI])])


def issue_signature_certificate(
    ca: CertificateAuthority,
    resident: Resident,
    key: rsa.RSAPrivateKey | None = None,
    *,
    not_before: dt.datetime | None = None,
    days: int = 365 * 5,
    policy: x509.ObjectIdentifier = POLICY_SIGNATURE,
    serial: int | None = None,
    birth_field: str | None = None,
    omit: tuple[x509.ObjectIdentifier, ...] = (),
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A signature certificate for ``resident`` with J-LIS's profile (``birth_field``
    overrides the encoded date of birth and ``omit`` drops attributes, to make malformed
    variants)."""
    key = key or new_key()
    start = not_before or _now() - dt.timedelta(days=1)
    born = resident.date_of_birth
    era = era_of(born) if resident.birth_era is None else resident.birth_era
    birth = birth_field or f"{era}{born:%Y%m%d}"
    name_flags, address_flags = resident.substitute_flags()
    # The order real certificates carry them in.
    attributes = [
        (OID_NAME, resident.name),
        (OID_BIRTH, birth),
        (OID_GENDER, _GENDER_CODES[resident.gender]),
        (OID_ADDRESS, resident.address),
        (OID_NAME_SUBSTITUTE, name_flags),
        (OID_ADDRESS_SUBSTITUTE, address_flags),
    ]
    others: list[x509.GeneralName] = [
        x509.OtherName(oid, encode_utf8_string(value))
        for oid, value in attributes
        if oid not in omit
    ]
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "Ibaraki-ken"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "Tsukuba-shi"),
            x509.NameAttribute(NameOID.COMMON_NAME, secrets.token_hex(13).upper()),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(_policies(policy), critical=True)
        .add_extension(x509.SubjectAlternativeName(others), critical=False)
    )
    cert = _common_extensions(builder, ca, key).sign(ca.key, hashes.SHA256())
    return cert, key


def issue_authentication_certificate(
    ca: CertificateAuthority,
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """The authentication certificate (from the authentication CA) carries no resident
    attributes; its keyUsage is digitalSignature, critical."""
    key = new_key()
    start = _now() - dt.timedelta(days=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                    x509.NameAttribute(NameOID.COMMON_NAME, secrets.token_hex(13).upper()),
                ]
            )
        )
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=365 * 5))
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(_policies(POLICY_AUTHENTICATION), critical=True)
    )
    cert = _common_extensions(builder, ca, key).sign(ca.key, hashes.SHA256())
    return cert, key


_DEFAULT_AUTH_CA: CertificateAuthority | None = None


def default_authentication_ca() -> CertificateAuthority:
    """One authentication CA per process ("JPKI for user authentication"), made on first use."""
    global _DEFAULT_AUTH_CA
    if _DEFAULT_AUTH_CA is None:
        _DEFAULT_AUTH_CA = CertificateAuthority.create(kind="authentication")
    return _DEFAULT_AUTH_CA


def make_card(
    sign_ca: CertificateAuthority,
    resident: Resident | None = None,
    *,
    auth_ca: CertificateAuthority | None = None,
    sign_pin: str = "ABC123",
    **certificate_options: Any,
) -> VoterCard:
    resident = resident or Resident()
    auth_ca = auth_ca or default_authentication_ca()
    sign_cert, sign_key = issue_signature_certificate(sign_ca, resident, **certificate_options)
    auth_cert, auth_key = issue_authentication_certificate(auth_ca)
    return VoterCard(
        resident,
        sign_cert,
        sign_key,
        sign_ca.certificate,
        auth_cert,
        auth_key,
        auth_ca.certificate,
        sign_pin=sign_pin,
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
