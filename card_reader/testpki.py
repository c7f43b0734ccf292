"""Test PKI for JPKI-profile certificates: a signature CA, voter certificates with the four
basic attributes, CRLs, and card images for the virtual card.

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


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def new_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, bits)


@dataclass
class CertificateAuthority:
    """A JPKI-profile CA (signature or authentication)."""

    certificate: x509.Certificate
    key: rsa.RSAPrivateKey

    @classmethod
    def create(
        cls,
        name: str = "JPKI Test Signature CA",
        *,
        days: int = 3650,
        not_before: dt.datetime | None = None,
    ) -> CertificateAuthority:
        key = new_key()
        start = not_before or _now() - dt.timedelta(days=1)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI (ippyo test)"),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
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
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key)

    def crl(
        self,
        revoked_serials: list[int] | None = None,
        *,
        this_update: dt.datetime | None = None,
        next_update: dt.datetime | None = None,
    ) -> x509.CertificateRevocationList:
        """A CRL revoking ``revoked_serials``; choose the dates to make it fresh or stale."""
        this_update = this_update or _now() - dt.timedelta(minutes=5)
        next_update = next_update or this_update + dt.timedelta(days=1)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.certificate.subject)
            .last_update(this_update)
            .next_update(next_update)
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
        return cls(cert, key)


@dataclass
class Resident:
    """The four basic attributes as the resident register holds them."""

    name: str = "山田 花子"
    gender: str = "female"
    date_of_birth: dt.date = dt.date(1985, 4, 1)
    address: str = "茨城県つくば市研究学園一丁目1番地1"
    name_substitute: str | None = None
    address_substitute: str | None = None


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
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A signature certificate for ``resident`` (``birth_field`` overrides the encoded date of
    birth, to make malformed variants)."""
    key = key or new_key()
    start = not_before or _now() - dt.timedelta(days=1)
    born = resident.date_of_birth
    birth = birth_field or f"{era_of(born)}{born:%Y%m%d}"
    others = [
        x509.OtherName(OID_NAME, encode_utf8_string(resident.name)),
        x509.OtherName(OID_GENDER, encode_utf8_string(_GENDER_CODES[resident.gender])),
        x509.OtherName(OID_BIRTH, encode_utf8_string(birth)),
        x509.OtherName(OID_ADDRESS, encode_utf8_string(resident.address)),
    ]
    if resident.name_substitute:
        others.append(
            x509.OtherName(OID_NAME_SUBSTITUTE, encode_utf8_string(resident.name_substitute))
        )
    if resident.address_substitute:
        others.append(
            x509.OtherName(OID_ADDRESS_SUBSTITUTE, encode_utf8_string(resident.address_substitute))
        )
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "Ibaraki-ken"),
            x509.NameAttribute(NameOID.COMMON_NAME, secrets.token_hex(8).upper()),
        ]
    )
    cert = (
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
        .add_extension(
            x509.CertificatePolicies([x509.PolicyInformation(policy, None)]), critical=True
        )
        .add_extension(x509.SubjectAlternativeName(others), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
        .sign(ca.key, hashes.SHA256())
    )
    return cert, key


def issue_authentication_certificate(
    ca: CertificateAuthority,
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """The authentication certificate carries no resident attributes."""
    key = new_key()
    start = _now() - dt.timedelta(days=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, secrets.token_hex(8).upper())])
        )
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=365 * 5))
        .add_extension(
            x509.CertificatePolicies([x509.PolicyInformation(POLICY_AUTHENTICATION, None)]),
            critical=True,
        )
        .sign(ca.key, hashes.SHA256())
    )
    return cert, key


def make_card(
    sign_ca: CertificateAuthority,
    resident: Resident | None = None,
    *,
    auth_ca: CertificateAuthority | None = None,
    sign_pin: str = "ABC123",
    **certificate_options: Any,
) -> VoterCard:
    resident = resident or Resident()
    auth_ca = auth_ca or sign_ca
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
