"""Revocation by key, over real HTTP on SQLite and PostgreSQL: two signature CAs with one DN
(as J-LIS's 2015 and 2023 generations), each revoking different certificates; and the
production trust store committed in registrar/trust."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from card_reader.testpki import CertificateAuthority, Resident, make_card
from registrar.app import create_app
from registrar.eligibility import key_id

from .conftest import HttpClient, Pki, base_config, issue, serving

TRUST = Path(__file__).resolve().parents[2] / "registrar" / "trust"


@pytest.fixture(scope="module")
def twins() -> tuple[CertificateAuthority, CertificateAuthority]:
    old, new = CertificateAuthority.create(), CertificateAuthority.create()
    assert old.certificate.subject == new.certificate.subject  # one DN, two keys
    assert key_id(old.certificate) != key_id(new.certificate)
    return old, new


def crl_with_aki(
    ca: CertificateAuthority, serials: list[int], *, signer: CertificateAuthority | None = None
) -> bytes:
    """A CRL naming its CA by authority key identifier (J-LIS's CRLs do)."""
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(now)
        .next_update(now + dt.timedelta(days=1))
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    for serial in serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build()
        )
    return builder.sign((signer or ca).key, hashes.SHA256()).public_bytes(Encoding.DER)


@pytest.mark.parametrize("aki", [True, False], ids=["crl-with-aki", "crl-without-aki"])
def test_two_cas_with_one_dn_each_revoking_different_certificates(
    pki: Pki,
    twins: tuple[CertificateAuthority, CertificateAuthority],
    database_url: str,
    keyfile: Path,
    clock: list[dt.datetime],
    tmp_path: Path,
    aki: bool,
) -> None:
    old, new = twins
    a1, a2 = make_card(old, Resident(name="旧 一")), make_card(old, Resident(name="旧 二"))
    b1, b2 = make_card(new, Resident(name="新 一")), make_card(new, Resident(name="新 二"))
    (tmp_path / "cas.pem").write_bytes(
        old.certificate.public_bytes(Encoding.PEM) + new.certificate.public_bytes(Encoding.PEM)
    )
    for name, ca, revoked in (
        ("old.crl", old, a1.sign_certificate.serial_number),
        ("new.crl", new, b1.sign_certificate.serial_number),
    ):
        data = crl_with_aki(ca, [revoked]) if aki else ca.crl([revoked]).public_bytes(Encoding.DER)
        (tmp_path / name).write_bytes(data)
    config = base_config(database_url, pki, {"type": "keyfile", "path": str(keyfile)}, clock)
    config["CA_CERTS"] = [str(tmp_path / "cas.pem")]
    config["CRLS"] = [str(tmp_path / "new.crl"), str(tmp_path / "old.crl")]
    with serving(create_app(config)) as url:
        client = HttpClient(url)
        assert issue(client, a1).code == "certificate_revoked"
        assert issue(client, b1).code == "certificate_revoked"
        assert issue(client, a2).status == 200
        assert issue(client, b2).status == 200


def test_a_crl_signed_by_the_twin_counts_for_nothing(
    pki: Pki,
    twins: tuple[CertificateAuthority, CertificateAuthority],
    database_url: str,
    keyfile: Path,
    clock: list[dt.datetime],
    tmp_path: Path,
) -> None:
    """A CRL that names the new CA (DN and key id) but is signed by the old CA's key: it is
    not the new CA's CRL, so the new CA's certificates have none (crl_missing), and the old
    CA's empty CRL does not vouch for them."""
    old, new = twins
    b = make_card(new, Resident(name="新 三"))
    (tmp_path / "cas.pem").write_bytes(
        old.certificate.public_bytes(Encoding.PEM) + new.certificate.public_bytes(Encoding.PEM)
    )
    (tmp_path / "forged.crl").write_bytes(crl_with_aki(new, [], signer=old))
    (tmp_path / "old.crl").write_bytes(old.crl([]).public_bytes(Encoding.DER))
    config = base_config(database_url, pki, {"type": "keyfile", "path": str(keyfile)}, clock)
    config["CA_CERTS"] = [str(tmp_path / "cas.pem")]
    config["CRLS"] = [str(tmp_path / "forged.crl"), str(tmp_path / "old.crl")]
    with serving(create_app(config)) as url:
        client = HttpClient(url)
        assert issue(client, b).code == "crl_missing"
        assert issue(client, make_card(old, Resident(name="旧 三"))).status == 200


def test_production_trust_store() -> None:
    provenance = (TRUST / "PROVENANCE").read_text()
    assert "jpki/myna" in provenance
    expected = dict(re.findall(r"^(sign_ca_\d{4}\.pem) ([0-9a-f]{64})$", provenance, re.M))
    assert set(expected) == {"sign_ca_2015.pem", "sign_ca_2023.pem"}
    certs = {}
    for name, fingerprint in expected.items():
        cert = x509.load_pem_x509_certificate((TRUST / name).read_bytes())
        assert cert.fingerprint(hashes.SHA256()).hex() == fingerprint, name
        assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
        assert cert.subject == cert.issuer  # self-signed roots
        cert.verify_directly_issued_by(cert)
        certs[name] = cert
    old, new = certs["sign_ca_2015.pem"], certs["sign_ca_2023.pem"]
    assert old.subject == new.subject  # one DN: only the key tells them apart
    assert old.subject.rfc4514_string() == (
        "OU=Japan Agency for Local Authority Information Systems,"
        "OU=JPKI for digital signature,O=JPKI,C=JP"
    )
    assert key_id(old) != key_id(new)
    assert old.not_valid_before_utc.year == 2015 and new.not_valid_before_utc.year == 2023
