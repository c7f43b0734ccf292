"""The real JPKI certificate profile at the registrar, over real HTTP: the accepted signature
policy OIDs are configuration (default: production …1.1.20 and J-LIS test …1.0.20); era 0."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from card_reader.certificate import (
    POLICY_AUTHENTICATION,
    POLICY_SIGNATURE,
    POLICY_SIGNATURE_TEST,
    parse_signature_certificate,
)
from card_reader.errors import CertificateError
from card_reader.testpki import Resident
from registrar.app import create_app

from .conftest import HttpClient, Pki, base_config, issue, serving


def test_production_and_test_policies_accepted_by_default(client: HttpClient, pki: Pki) -> None:
    assert issue(client, pki.card(policy=POLICY_SIGNATURE)).status == 200
    tested = pki.card(Resident(name="試験 環境"), policy=POLICY_SIGNATURE_TEST)
    assert issue(client, tested).status == 200
    assert issue(client, pki.card(policy=POLICY_AUTHENTICATION)).code == "wrong_policy"


def test_accepted_policies_are_configuration(
    pki: Pki, database_url: str, keyfile: Path, clock: list[dt.datetime]
) -> None:
    config = base_config(database_url, pki, {"type": "keyfile", "path": str(keyfile)}, clock)
    config["SIGNATURE_POLICIES"] = [POLICY_SIGNATURE.dotted_string]  # production only
    with serving(create_app(config)) as url:
        client = HttpClient(url)
        refused = issue(client, pki.card(policy=POLICY_SIGNATURE_TEST))
        assert (
            refused.code == "wrong_policy"
            and "1.2.392.200149.8.5.1.0.20" in refused.body["error"]["detail"]
        )
        assert issue(client, pki.card(Resident(name="本番 一郎"))).status == 200


def test_era_zero_birth(client: HttpClient, pki: Pki) -> None:
    """Era digit 0 ("unknown"): the registrar follows the parser. If the parser gives a date,
    the age rules apply to it and the voter is served; if it refuses, a typed refusal."""
    born = dt.date(1950, 3, 1)
    card = pki.card(Resident(name="年号 不明", date_of_birth=born), birth_field=f"0{born:%Y%m%d}")
    try:
        parsed = parse_signature_certificate(card.sign_certificate.public_bytes(Encoding.DER))
    except CertificateError:
        parsed = None
    attempt = issue(client, card)
    if parsed is not None and parsed.date_of_birth == born:
        assert attempt.status == 200, attempt.body
    else:
        assert attempt.code == "bad_certificate", attempt.body
    young = dt.date(2015, 1, 1)
    child = pki.card(
        Resident(name="年号 子供", date_of_birth=young), birth_field=f"0{young:%Y%m%d}"
    )
    assert issue(client, child).code in ("under_age", "bad_certificate")
