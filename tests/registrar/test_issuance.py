"""Issuance and every refusal, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import base64
import datetime as dt
import threading

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from flask import Flask
from flask.testing import FlaskClient

from card_reader.certificate import POLICY_AUTHENTICATION
from card_reader.testpki import Resident, make_card
from election import token as tokens

from .conftest import (
    AUTH,
    ELECTION_ID,
    KIOSK,
    Attempt,
    HttpClient,
    Pki,
    issue,
    registrar_key_of,
    serving,
)


def _finalize(client: FlaskClient, attempt: Attempt) -> bytes:
    """The token signature the kiosk's flow unblinded and verified."""
    assert attempt.issued is not None, attempt.body
    key = registrar_key_of(client)
    tokens.verify_token_signature(
        key, ELECTION_ID, attempt.issued.address, attempt.issued.signature
    )
    return attempt.issued.signature


def test_issue_and_idempotent_reissue(client: FlaskClient, pki: Pki, app: Flask) -> None:
    card = pki.card()
    first = issue(client, card)
    assert first.status == 200, first.body
    sig = _finalize(client, first)
    again = issue(client, card)  # the kiosk crashed and the voter tries again
    assert again.status == 200 and again.body["reissue"] is True
    assert again.body["blind_signature"] == first.body["blind_signature"]
    assert _finalize(client, again) == sig
    assert app.extensions["ippyo_registrar"]["ledger"].issuance_count() == 1


def test_second_certificate_for_the_same_person(client: FlaskClient, pki: Pki) -> None:
    assert issue(client, pki.card()).status == 200
    renewed = pki.card()  # same resident, a new card and certificate
    refused = issue(client, renewed)
    assert (refused.status, refused.code) == (409, "different_certificate")
    assert "別の電子証明書" in refused.body["error"]["message_ja"]


def test_concurrent_requests_for_one_person_make_one_row(
    client: FlaskClient, pki: Pki, app: Flask
) -> None:
    card = pki.card()
    results: list[int] = []

    def go() -> None:
        results.append(issue(client, card).status)

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 4
    assert app.extensions["ippyo_registrar"]["ledger"].issuance_count() == 1


@pytest.mark.parametrize(
    "make, code",
    [
        (lambda p: make_card(p.other_ca), "unknown_ca"),
        (
            lambda p: p.card(not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=400), days=30),
            "expired",
        ),
        (
            lambda p: p.card(not_before=dt.datetime.now(dt.UTC) + dt.timedelta(days=3)),
            "not_yet_valid",
        ),
        (lambda p: p.card(policy=POLICY_AUTHENTICATION), "wrong_policy"),
        (lambda p: p.card(Resident(date_of_birth=dt.date(2008, 12, 8))), "under_age"),
        (lambda p: p.card(Resident(address="東京都千代田区千代田1-1")), "other_municipality"),
    ],
    ids=[
        "unknown_ca",
        "expired",
        "not_yet_valid",
        "wrong_policy",
        "under_age",
        "other_municipality",
    ],
)
def test_certificate_and_rule_refusals(
    client: FlaskClient, pki: Pki, make: object, code: str
) -> None:
    refused = issue(client, make(pki))  # type: ignore[operator]
    assert refused.code == code, refused.body
    assert refused.body["error"]["message_ja"] and refused.body["error"]["message_en"]


def test_age_boundary_on_election_day(client: FlaskClient, pki: Pki) -> None:
    # Born 7 Dec 2008: 18 at the end of 6 Dec 2026, the election day → may vote.
    assert issue(client, pki.card(Resident(date_of_birth=dt.date(2008, 12, 7)))).status == 200


def test_bad_chain(client: FlaskClient, pki: Pki) -> None:
    """Same issuer name as the trusted CA, but signed by another key."""
    from card_reader.testpki import CertificateAuthority

    forged_ca = CertificateAuthority(pki.ca.certificate, pki.other_ca.key)  # right name, wrong key
    card = make_card(forged_ca)
    assert issue(client, card).code == "bad_chain"


def test_revoked_and_crl_problems(client: FlaskClient, pki: Pki, clock: list[dt.datetime]) -> None:
    card = pki.card()
    pki.revoked.append(card.sign_certificate.serial_number)
    pki.write_crl()
    assert issue(client, card).code == "certificate_revoked"
    fresh = pki.card(Resident(name="別人 一郎"))
    clock[0] = clock[0] + dt.timedelta(days=2)  # the CRL's nextUpdate has passed
    assert issue(client, fresh).code == "crl_stale"
    pki.crl_path.unlink()
    assert issue(client, fresh).code == "crl_missing"


def test_card_signature_and_challenges(
    client: FlaskClient, pki: Pki, clock: list[dt.datetime]
) -> None:
    card, other = pki.card(), pki.card(Resident(name="他人 花子"))
    assert issue(client, card, sign_with=other).code == "bad_card_signature"
    assert issue(client, card, nonce="00" * 32).code == "bad_challenge"
    # A challenge is bound to its kiosk.
    foreign = client.post(
        "/v1/challenges", headers={"Authorization": "Bearer kiosk-02:other"}
    ).json["nonce"]  # type: ignore[index]
    assert issue(client, card, nonce=foreign).code == "bad_challenge"
    nonce = client.post("/v1/challenges", headers=AUTH).json["nonce"]  # type: ignore[index]
    assert issue(client, card, nonce=nonce).status == 200
    assert issue(client, card, nonce=nonce).code == "challenge_reused"
    old = client.post("/v1/challenges", headers=AUTH).json["nonce"]  # type: ignore[index]
    clock[0] = clock[0] + dt.timedelta(seconds=61)
    assert issue(client, card, nonce=old).code == "challenge_expired"


def test_unauthenticated_kiosk(client: FlaskClient, pki: Pki) -> None:
    for header in (
        {},
        {"Authorization": f"Bearer {KIOSK}:wrong"},
        {"Authorization": "Basic x"},
        {"Authorization": "Bearer nobody:x"},
    ):
        r = client.post("/v1/challenges", headers=header)
        assert r.status_code == 401 and r.json["error"]["code"] == "unauthenticated_kiosk"  # type: ignore[index]
    assert client.post("/v1/tokens", json={}).json["error"]["code"] == "unauthenticated_kiosk"  # type: ignore[index]


def test_malformed_requests(client: FlaskClient, pki: Pki) -> None:
    r = client.post("/v1/tokens", headers=AUTH, data="nope")
    assert r.json["error"]["code"] == "bad_request"  # type: ignore[index]
    card = pki.card()
    assert issue(client, card, certificate=b"\x30\x03junk").code == "bad_certificate"
    nonce = client.post("/v1/challenges", headers=AUTH).json["nonce"]  # type: ignore[index]
    r = client.post(
        "/v1/tokens",
        headers=AUTH,
        json={
            "nonce": nonce,
            "certificate": base64.b64encode(
                card.sign_certificate.public_bytes(Encoding.DER)
            ).decode(),
            "card_signature": "not base64!",
            "blinded_token": "AA==",
        },
    )
    assert r.json["error"]["code"] == "bad_request"  # type: ignore[index]


def test_electoral_roll(
    app: Flask, pki: Pki, database_url: str, keyfile: object, clock: list[dt.datetime]
) -> None:
    from registrar.app import create_app

    from .conftest import base_config

    config = base_config(database_url, pki, {"type": "keyfile", "path": str(keyfile)}, clock)
    config["ROLL_REQUIRED"] = True
    roll_app = create_app(config)
    ledger = roll_app.extensions["ippyo_registrar"]["ledger"]
    ledger.import_roll(
        "name,date_of_birth,gender,address\n"
        "山田 花子,1985-04-01,female,茨城県つくば市研究学園一丁目1番地1\n"
        "転居 次郎,1970-01-01,male,茨城県つくば市竹園1-1\n"
    )
    with serving(roll_app) as url:
        _roll_checks(HttpClient(url), pki)
    with pytest.raises(ValueError, match="columns"):
        ledger.import_roll("name,birthday\nx,y\n")


def _roll_checks(client: HttpClient, pki: Pki) -> None:
    assert issue(client, pki.card()).status == 200
    moved = pki.card(
        Resident(
            name="転居 次郎",
            gender="male",
            date_of_birth=dt.date(1970, 1, 1),
            address="茨城県つくば市吾妻2-2",
        )
    )
    assert issue(client, moved).code == "moved_address"
    stranger = pki.card(Resident(name="名簿 外", date_of_birth=dt.date(1990, 1, 1)))
    assert issue(client, stranger).code == "not_on_roll"
    outsider = pki.card(Resident(name="市外 人", address="東京都港区1-1"))
    assert issue(client, outsider).code == "other_municipality"
