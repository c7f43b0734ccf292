"""Bad input over real HTTP, on SQLite and PostgreSQL: never a 500, never a lost challenge,
always a named refusal with an audit row and a JSON log line carrying its code."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from flask import Flask
from sqlalchemy import select

from registrar.app import create_app
from registrar.ledger import AuditEntry

from .conftest import AUTH, KIOSK, HttpClient, Pki, base_config, card_sign, issue, serving


def _audit(app: Flask) -> list[AuditEntry]:
    with app.extensions["ippyo_registrar"]["ledger"].session() as s:
        return list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def _last(app: Flask) -> AuditEntry:
    return _audit(app)[-1]


def test_too_large_body_is_413_and_audited(client: HttpClient, app: Flask) -> None:
    r = client.post("/v1/tokens", headers=AUTH, data=b"{" + b" " * (2 * 1024 * 1024) + b"}")
    assert (r.status_code, r.json["error"]["code"]) == (413, "request_too_large")
    assert (_last(app).code, _last(app).kiosk_id) == ("request_too_large", KIOSK)


@pytest.mark.parametrize(
    "body",
    [b"[" * 2000 + b"]" * 2000, b'{"a":' * 3000 + b"1" + b"}" * 3000, b"\xff\xfe", b"nope", b"[]"],
    ids=["deep-array", "deep-object", "not-utf8", "not-json", "not-an-object"],
)
def test_malformed_json_is_400(client: HttpClient, app: Flask, body: bytes) -> None:
    r = client.post("/v1/tokens", headers={**AUTH, "Content-Type": "application/json"}, data=body)
    assert (r.status_code, r.json["error"]["code"]) == (400, "bad_request")
    assert _last(app).code == "bad_request"


def test_unauthenticated_is_audited(client: HttpClient, app: Flask) -> None:
    r = client.post("/v1/challenges", headers={"Authorization": "Bearer intruder:x"})
    assert r.status_code == 401
    row = _last(app)
    assert (row.code, row.kiosk_id, row.decision) == (
        "unauthenticated_kiosk",
        "?intruder",
        "refused",
    )
    assert client.get("/v1/nothing").json["error"]["code"] == "not_found"
    assert client.request("PUT", "/v1/tokens").json["error"]["code"] == "method_not_allowed"


def test_a_malformed_certificate_costs_no_challenge(
    client: HttpClient, pki: Pki, app: Flask
) -> None:
    card = pki.card()
    der = card.sign_certificate.public_bytes(Encoding.DER)
    at = der.index(b"\x13\x02JP")  # the issuer's country: PrintableString → a bad tag
    broken = der[:at] + b"\x01" + der[at + 1 :]
    nonce = client.post("/v1/challenges", headers=AUTH).json["nonce"]
    for bad in (broken, b"\x30\x03junk", b"", der[:200]):
        attempt = issue(client, card, nonce=nonce, certificate=bad)
        assert (attempt.status, attempt.code) == (403, "bad_certificate"), attempt.body
    # A card signature that does not verify does not use the challenge up either.
    other = pki.card()
    assert issue(client, card, nonce=nonce, sign_with=other).code == "bad_card_signature"
    assert issue(client, card, nonce=nonce).status == 200  # the same challenge still works


def test_certificate_refusals_record_fingerprint_and_person(
    client: HttpClient, pki: Pki, app: Flask
) -> None:
    from card_reader.testpki import Resident

    card = pki.card(Resident(address="東京都千代田区千代田1-1"))
    assert issue(client, card).code == "other_municipality"
    row = _last(app)
    assert row.certificate_sha256 and row.person_key and row.code == "other_municipality"
    revoked = pki.card(Resident(name="失効 太郎"))
    pki.revoked.append(revoked.sign_certificate.serial_number)
    pki.write_crl()
    assert issue(client, revoked).code == "certificate_revoked"
    assert _last(app).code == "certificate_revoked"


def test_challenges_expire_are_purged_and_rate_limited(
    pki: Pki,
    database_url: str,
    keyfile: Path,
    clock: list[dt.datetime],
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = base_config(database_url, pki, {"type": "keyfile", "path": str(keyfile)}, clock)
    config["CHALLENGES_PER_MINUTE"] = 3
    app = create_app(config)
    ledger = app.extensions["ippyo_registrar"]["ledger"]
    caplog.set_level(logging.INFO)
    with serving(app) as url:
        client = HttpClient(url)
        for _ in range(3):
            assert client.post("/v1/challenges", headers=AUTH).status_code == 201
        r = client.post("/v1/challenges", headers=AUTH)
        assert (r.status_code, r.json["error"]["code"]) == (429, "rate_limited")
        assert _last(app).code == "rate_limited"
        other = client.post("/v1/challenges", headers={"Authorization": "Bearer kiosk-02:other"})
        assert other.status_code == 201  # the limit is per kiosk
        assert ledger.challenge_count() == 4
        clock[0] = clock[0] + dt.timedelta(minutes=2)  # all expired, the minute is over
        assert client.post("/v1/challenges", headers=AUTH).status_code == 201
        assert ledger.challenge_count() == 1  # the expired ones were purged
    logged = [json.loads(r.getMessage()) for r in caplog.records if r.getMessage().startswith("{")]
    assert any(line.get("code") == "rate_limited" for line in logged), caplog.records


def test_log_lines_are_json_with_the_reason_code(
    client: HttpClient, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    card = pki.card()
    assert issue(client, card, certificate=b"\x30\x03junk").code == "bad_certificate"
    assert issue(client, card).status == 200
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.getMessage().startswith("{")]
    codes = [(line["event"], line["code"]) for line in lines]
    assert ("registrar.refused", "bad_certificate") in codes
    assert ("registrar.issued", "ok") in codes
    assert all("kiosk" in line for line in lines)


def test_card_signature_field_garbage(client: HttpClient, pki: Pki) -> None:
    card = pki.card()
    nonce = client.post("/v1/challenges", headers=AUTH).json["nonce"]
    der = card.sign_certificate.public_bytes(Encoding.DER)
    for fields, code in (
        ({"nonce": "zz" * 32}, "bad_challenge"),
        ({"nonce": nonce, "certificate": 5}, "bad_request"),
        (
            {
                "nonce": nonce,
                "certificate": base64.b64encode(der).decode(),
                "card_signature": "AA==",
                "blinded_token": "AA==",
            },
            "bad_card_signature",
        ),
    ):
        r = client.post("/v1/tokens", headers=AUTH, json=fields)
        assert r.json["error"]["code"] == code, (fields, r.json)
    sig = card_sign(card, b"\x00" * 32)
    assert sig  # the challenge survived all of the above:
    assert issue(client, card, nonce=nonce).status == 200
