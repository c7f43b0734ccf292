"""The attribute parser: every generated variant, and malformed input refused with a reason."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from card_reader.certificate import (
    POLICY_AUTHENTICATION,
    decode_utf8_string,
    encode_utf8_string,
    era_of,
    parse_signature_certificate,
)
from card_reader.errors import CertificateError
from card_reader.testpki import (
    CertificateAuthority,
    Resident,
    issue_authentication_certificate,
    issue_signature_certificate,
)

RESIDENTS = [
    Resident(),
    Resident(
        "髙橋 一郎",
        "male",
        dt.date(1950, 1, 31),
        "東京都千代田区千代田1-1",
        name_substitute="高橋 一郎",
        address_substitute="東京都千代田区千代田一丁目一番",
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
    assert attrs.name_substitute == resident.name_substitute
    assert attrs.address_substitute == resident.address_substitute
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
    ],
)
def test_bad_birth_fields(sign_ca: CertificateAuthority, birth: str, reason: str) -> None:
    cert, _ = issue_signature_certificate(sign_ca, Resident(), birth_field=birth)
    with pytest.raises(CertificateError, match=reason):
        parse_signature_certificate(cert.public_bytes(Encoding.DER))


def test_authentication_certificate_has_no_attributes(sign_ca: CertificateAuthority) -> None:
    cert, _ = issue_authentication_certificate(sign_ca)
    policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert policies[0].policy_identifier == POLICY_AUTHENTICATION
    with pytest.raises(CertificateError, match="no subjectAltName"):
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
