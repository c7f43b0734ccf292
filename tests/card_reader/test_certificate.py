"""The attribute parser: every generated variant, and malformed input refused with a reason."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding

from card_reader.certificate import (
    OID_ADDRESS_SUBSTITUTE,
    OID_BIRTH,
    OID_NAME_SUBSTITUTE,
    POLICY_AUTHENTICATION,
    POLICY_SIGNATURE,
    POLICY_SIGNATURE_TEST,
    decode_utf8_string,
    encode_utf8_string,
    era_of,
    parse_signature_certificate,
)
from card_reader.errors import CertificateError
from card_reader.testpki import (
    CPS_URI,
    ISSUER_ALT_NAME,
    CertificateAuthority,
    Resident,
    issue_authentication_certificate,
    issue_signature_certificate,
    jpki_ca_name,
    make_card,
)

RESIDENTS = [
    Resident(),
    Resident(
        "髙橋 一郎",
        "male",
        dt.date(1950, 1, 31),
        "東京都千代田区千代田1-1",
        name_substitute="10000",  # 髙 is written with a substitute character
        address_substitute="0000000000001",
    ),
    Resident("渡邊 さくら", "unspecified", dt.date(2008, 12, 6), "茨城県つくば市天王台1-1-1 305号"),
    Resident("Smith John", "male", dt.date(1925, 6, 1), "茨城県つくば市竹園2丁目"),  # 大正
    Resident("明治 太郎", "male", dt.date(1912, 7, 29), "茨城県つくば市北条"),  # last Meiji day
    Resident(
        "令和 花", "female", dt.date(2019, 5, 1), "茨城県つくば市みどりの1"
    ),  # first Reiwa day
    Resident("長い名前" * 30, "female", dt.date(1989, 1, 8), "住所" * 200),  # long DER lengths
]


@pytest.mark.parametrize("resident", RESIDENTS, ids=lambda r: r.name[:6])
def test_every_variant_round_trips(sign_ca: CertificateAuthority, resident: Resident) -> None:
    cert, _ = issue_signature_certificate(sign_ca, resident)
    attrs = parse_signature_certificate(cert.public_bytes(Encoding.DER))
    assert (attrs.name, attrs.gender, attrs.date_of_birth, attrs.address) == (
        resident.name,
        resident.gender,
        resident.date_of_birth,
        resident.address,
    )
    assert (attrs.name_substitute, attrs.address_substitute) == resident.substitute_flags()
    assert attrs.name_has_substitutes == ("1" in resident.substitute_flags()[0])
    assert attrs.birth_era == era_of(resident.date_of_birth)
    assert attrs.is_signature_certificate
    assert attrs.not_after > attrs.not_before


def test_eras() -> None:
    assert [
        era_of(d)
        for d in (
            dt.date(1900, 1, 1),
            dt.date(1912, 7, 30),
            dt.date(1926, 12, 25),
            dt.date(1989, 1, 7),
            dt.date(1989, 1, 8),
            dt.date(2019, 4, 30),
            dt.date(2019, 5, 1),
        )
    ] == [1, 2, 3, 3, 4, 4, 5]


@pytest.mark.parametrize(
    "birth, reason",
    [
        ("419850401", "era digit 4 does not match"),
        ("31985041", "not an era digit and YYYYMMDD"),
        ("319851301", "not a date"),
        ("3198504AB", "not an era digit"),
        ("619850401", "era digit 6 is not 0"),
        ("９19850401", "not an era digit"),
        ("019851301", "not a date"),
    ],
)
def test_bad_birth_fields(sign_ca: CertificateAuthority, birth: str, reason: str) -> None:
    cert, _ = issue_signature_certificate(sign_ca, Resident(), birth_field=birth)
    with pytest.raises(CertificateError, match=reason):
        parse_signature_certificate(cert.public_bytes(Encoding.DER))


def test_authentication_certificate_has_no_attributes(sign_ca: CertificateAuthority) -> None:
    card = make_card(sign_ca)
    cert = card.auth_certificate
    policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies)
    assert policies.critical and policies.value[0].policy_identifier == POLICY_AUTHENTICATION
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature
    assert not usage.value.content_commitment
    # A separate CA: "JPKI for user authentication", not the signature CA.
    assert cert.issuer == jpki_ca_name("JPKI for user authentication") == card.auth_ca.subject
    assert card.auth_ca != card.sign_ca
    card.auth_ca.public_key().verify(  # type: ignore[union-attr]
        cert.signature,
        cert.tbs_certificate_bytes,
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    with pytest.raises(CertificateError, match="no subjectAltName"):
        parse_signature_certificate(cert.public_bytes(Encoding.DER))
    # An explicit CA is still honoured (older callers pass one).
    other, _ = issue_authentication_certificate(sign_ca)
    assert other.issuer == sign_ca.certificate.subject


def test_the_jlis_profile(sign_ca: CertificateAuthority) -> None:
    """Every element of J-LIS's signature-certificate profile, as a relying party sees it."""
    cert, _ = issue_signature_certificate(sign_ca, Resident())
    ext = cert.extensions
    assert cert.issuer.rfc4514_string() == (
        "OU=Japan Agency for Local Authority Information Systems,"
        "OU=JPKI for digital signature,O=JPKI,C=JP"
    )
    policies = ext.get_extension_for_class(x509.CertificatePolicies)
    assert policies.critical
    [info] = policies.value
    assert info.policy_identifier.dotted_string == "1.2.392.200149.8.5.1.1.20"
    assert info.policy_qualifiers == [CPS_URI]
    usage = ext.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    san = ext.get_extension_for_class(x509.SubjectAlternativeName).value
    oids = sorted(o.type_id.dotted_string for o in san.get_values_for_type(x509.OtherName))
    assert oids == [f"1.2.392.200149.8.5.5.{i}" for i in range(1, 7)]
    ian = ext.get_extension_for_class(x509.IssuerAlternativeName).value
    assert ian.get_values_for_type(x509.DirectoryName) == [ISSUER_ALT_NAME]
    assert ISSUER_ALT_NAME.rfc4514_string() == "O=公的個人認証サービス,C=JP"
    [point] = ext.get_extension_for_class(x509.CRLDistributionPoints).value
    assert point.full_name is not None
    assert isinstance(point.full_name[0], x509.DirectoryName)
    aki = ext.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == sign_ca.key_identifier
    ski = ext.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(cert.public_key())  # type: ignore[arg-type]
    # The CA certificate itself: J-LIS's DN, self-signed, CRL sign and certificate sign.
    ca = sign_ca.certificate
    assert ca.subject == ca.issuer == cert.issuer
    ca_usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ca_usage.key_cert_sign and ca_usage.crl_sign and not ca_usage.digital_signature


def test_two_ca_generations_share_a_dn_not_a_key(tmp_path: Path) -> None:
    old = CertificateAuthority.create(generation=2015)
    new = CertificateAuthority.create(generation=2023)
    assert old.certificate.subject == new.certificate.subject
    assert old.key_identifier != new.key_identifier
    cert_old = issue_signature_certificate(old, Resident())[0]
    cert_new = issue_signature_certificate(new, Resident())[0]
    assert cert_old.issuer == cert_new.issuer

    def aki(c: x509.Certificate) -> bytes | None:
        return c.extensions.get_extension_for_class(
            x509.AuthorityKeyIdentifier
        ).value.key_identifier

    assert (aki(cert_old), aki(cert_new)) == (old.key_identifier, new.key_identifier)
    crl = new.crl([cert_new.serial_number])
    crl_aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert crl_aki.key_identifier == new.key_identifier
    assert crl.is_signature_valid(new.key.public_key())
    assert not crl.is_signature_valid(old.key.public_key())
    # A given key makes the same CA again; save/load keep the key.
    same = CertificateAuthority.create(key=new.key)
    assert same.key_identifier == new.key_identifier
    new.save(tmp_path / "ca")
    assert CertificateAuthority.load(tmp_path / "ca").key_identifier == new.key_identifier
    auth = CertificateAuthority.create(kind="authentication")
    auth.save(tmp_path / "auth")
    assert CertificateAuthority.load(tmp_path / "auth").kind == "authentication"
    with pytest.raises(ValueError, match="kind"):
        CertificateAuthority.create(kind="encryption")


def test_era_zero_means_unknown(sign_ca: CertificateAuthority) -> None:
    resident = Resident(date_of_birth=dt.date(1960, 1, 1), birth_era=0)
    cert, _ = issue_signature_certificate(sign_ca, resident)
    attrs = parse_signature_certificate(cert.public_bytes(Encoding.DER))
    assert (attrs.birth_era, attrs.date_of_birth) == (0, dt.date(1960, 1, 1))


@pytest.mark.parametrize("policy", [POLICY_SIGNATURE, POLICY_SIGNATURE_TEST])
def test_production_and_test_policies(
    sign_ca: CertificateAuthority, policy: x509.ObjectIdentifier
) -> None:
    cert, _ = issue_signature_certificate(sign_ca, Resident(), policy=policy)
    attrs = parse_signature_certificate(cert.public_bytes(Encoding.DER))
    assert attrs.policy_oids == (policy.dotted_string,) and attrs.is_signature_certificate
    cert, _ = issue_signature_certificate(
        sign_ca, Resident(), policy=x509.ObjectIdentifier("1.2.392.200149.8.5.1.1")
    )
    assert not parse_signature_certificate(cert.public_bytes(Encoding.DER)).is_signature_certificate


def test_substitute_flags(sign_ca: CertificateAuthority) -> None:
    resident = Resident("髙橋　一郎", name_substitute="10000", address_substitute=None)
    attrs = parse_signature_certificate(
        issue_signature_certificate(sign_ca, resident)[0].public_bytes(Encoding.DER)
    )
    assert attrs.name_substitute == "10000" and attrs.name_has_substitutes
    assert attrs.address_substitute == "0" * len(resident.address)
    assert not attrs.address_has_substitutes
    bad = Resident(name_substitute="1x000")
    with pytest.raises(CertificateError, match="name substitute flags"):
        parse_signature_certificate(
            issue_signature_certificate(sign_ca, bad)[0].public_bytes(Encoding.DER)
        )
    bad = Resident(address_substitute="髙")
    with pytest.raises(CertificateError, match="address substitute flags"):
        parse_signature_certificate(
            issue_signature_certificate(sign_ca, bad)[0].public_bytes(Encoding.DER)
        )
    # Certificates without the flag attributes (older test certificates) still parse.
    cert, _ = issue_signature_certificate(
        sign_ca, Resident(), omit=(OID_NAME_SUBSTITUTE, OID_ADDRESS_SUBSTITUTE)
    )
    attrs = parse_signature_certificate(cert.public_bytes(Encoding.DER))
    assert attrs.name_substitute is None and attrs.address_substitute is None


def test_missing_birth_attribute(sign_ca: CertificateAuthority) -> None:
    cert, _ = issue_signature_certificate(sign_ca, Resident(), omit=(OID_BIRTH,))
    with pytest.raises(CertificateError, match="date of birth attribute"):
        parse_signature_certificate(cert.public_bytes(Encoding.DER))


def test_malformed_der(sign_ca: CertificateAuthority) -> None:
    der = issue_signature_certificate(sign_ca, Resident())[0].public_bytes(Encoding.DER)
    for bad in (b"", b"\x30\x03\x01\x01", der[:-10], b"\x04" + der[1:]):
        with pytest.raises(CertificateError):
            parse_signature_certificate(bad)


def test_utf8_string_codec() -> None:
    for text in ("", "a", "山" * 50, "x" * 300):
        assert decode_utf8_string(encode_utf8_string(text), "t") == text
    with pytest.raises(CertificateError, match="not a UTF8String"):
        decode_utf8_string(b"\x13\x01a", "t")
    with pytest.raises(CertificateError, match="length"):
        decode_utf8_string(b"\x0c\x05abc", "t")
    with pytest.raises(CertificateError, match="UTF-8"):
        decode_utf8_string(b"\x0c\x02\xff\xfe", "t")


@pytest.mark.parametrize("tag", [0x01, 0x02, 0x30])
def test_malformed_issuer_name_is_a_typed_refusal(sign_ca: CertificateAuthority, tag: int) -> None:
    der = issue_signature_certificate(sign_ca, Resident())[0].public_bytes(Encoding.DER)
    at = der.index(b"\x06\x03\x55\x04\x06\x13\x02JP") + 5  # the issuer's countryName value
    bad = der[:at] + bytes([tag]) + der[at + 1 :]
    with pytest.raises(CertificateError, match="malformed issuer name"):
        parse_signature_certificate(bad)
