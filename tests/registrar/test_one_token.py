"""One token per person, over real HTTP, on SQLite and PostgreSQL: the same certificate and
blinded value get the same blind signature; any other blinded value is refused; concurrency
never yields a second token; degenerate blinded values are refused."""

from __future__ import annotations

import base64
import itertools
import secrets
import threading
from pathlib import Path

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from card_reader.testpki import Resident, VoterCard
from election import token as tokens
from election.errors import ElectionError
from election.primitives import blind_rsa
from registrar.ledger import AuditEntry

from .conftest import AUTH, ELECTION_ID, Attempt, HttpClient, Pki, issue, registrar_key_of

OTHER_KIOSK = {"Authorization": "Bearer kiosk-02:other"}
_people = itertools.count()


def _other_r(key: blind_rsa.RSAPublicKey) -> tuple[tokens.TokenKey, blind_rsa.BlindingResult]:
    """Another blinded request: a fresh token and a random blinding factor."""
    token = tokens.TokenKey.from_secret(secrets.randbelow(2**200) + 1)
    return token, blind_rsa.blind(
        key,
        blind_rsa.Variant.IPPYO,
        tokens.token_message(ELECTION_ID, token.address),
        salt=b"",
    )


def _token_of(client: HttpClient, attempt: Attempt) -> bytes | None:
    """The token address a successful answer unblinds to (verified), or None."""
    if attempt.status != 200:
        return None
    if attempt.issued is not None:  # the kiosk's flow unblinded and verified it
        return attempt.issued.address
    # A request blinded otherwise: unblind it with that request's own factor.
    assert attempt.token is not None and attempt.blinding is not None
    key = registrar_key_of(client)
    blind_sig = base64.b64decode(attempt.body["blind_signature"])
    try:
        sig = tokens.finalize_token(key, ELECTION_ID, attempt.token, blind_sig, attempt.blinding)
        tokens.verify_token_signature(key, ELECTION_ID, attempt.token.address, sig)
    except ElectionError:
        return None
    return attempt.token.address


def _audit(app: Flask) -> list[AuditEntry]:
    with app.extensions["ippyo_registrar"]["ledger"].session() as s:
        return list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def test_other_blinded_value_is_refused_and_audited(
    client: HttpClient, pki: Pki, app: Flask
) -> None:
    card = pki.card()
    first = issue(client, card)
    assert first.status == 200 and first.body["reissue"] is False
    again = issue(client, card, auth=OTHER_KIOSK, kiosk_id="kiosk-02")  # same request elsewhere
    assert again.status == 200 and again.body["reissue"] is True
    assert again.body["blind_signature"] == first.body["blind_signature"]
    other = issue(client, card, blind=_other_r)
    assert (other.status, other.code) == (409, "different_request")
    assert "別の要求" in other.body["error"]["message_ja"]
    row = _audit(app)[-1]
    assert (row.decision, row.code) == ("refused", "different_request")
    assert row.person_key and row.certificate_sha256
    assert row.certificate_sha256 == first_fingerprint(card)


def first_fingerprint(card: VoterCard) -> str:
    from cryptography.hazmat.primitives import hashes

    return card.sign_certificate.fingerprint(hashes.SHA256()).hex()


def test_degenerate_blinded_values(client: HttpClient, pki: Pki, keyfile: Path) -> None:
    private = blind_rsa.private_key_from_pem(keyfile.read_bytes())
    n, k = private.n, private.public_key.size
    card = pki.card()
    for value, code in (
        (0, "degenerate_blinded_token"),
        (1, "degenerate_blinded_token"),
        (n - 1, "degenerate_blinded_token"),
        (private.p * 12345, "degenerate_blinded_token"),
        (n, "bad_blinded_token"),
    ):
        fixed = blind_rsa.BlindingResult(value.to_bytes(k, "big"), (1).to_bytes(k, "big"))
        attempt = issue(
            client, card, blind=lambda _key, b=fixed: (tokens.TokenKey.from_secret(7), b)
        )
        assert attempt.code == code, (value, attempt.body)
    short = blind_rsa.BlindingResult(b"\x05" * (k - 1), b"")
    assert issue(client, card, blind=lambda _k: (tokens.TokenKey.from_secret(7), short)).code == (
        "bad_blinded_token"
    )
    # None of these used up the person: the real request still gets its token.
    assert issue(client, card).status == 200


def test_concurrent_different_requests_yield_one_token(
    client: HttpClient, pki: Pki, app: Flask
) -> None:
    card = pki.card()
    attempts: list[Attempt] = []
    lock = threading.Lock()

    def go(i: int) -> None:
        attempt = issue(
            client,
            card,
            blind=None if i % 2 else _other_r,
            auth=AUTH if i % 3 else OTHER_KIOSK,
            kiosk_id="kiosk-01" if i % 3 else "kiosk-02",
        )
        with lock:
            attempts.append(attempt)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(attempts) == 8
    codes = {a.code for a in attempts}
    assert codes <= {"ok", "different_request"}, codes
    issued = {_token_of(client, a) for a in attempts if a.status == 200}
    assert len(issued) == 1 and None not in issued
    assert app.extensions["ippyo_registrar"]["ledger"].issuance_count() == 1


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["card", "other"]),  # the card's own blinding or another request
            st.booleans(),  # the other kiosk
            st.integers(min_value=1, max_value=3),  # how many at once
        ),
        min_size=1,
        max_size=5,
    )
)
def test_property_one_person_never_gets_two_tokens(
    client: HttpClient, pki: Pki, steps: list[tuple[str, bool, int]]
) -> None:
    card = pki.card(Resident(name=f"性質 {next(_people)}"))
    attempts: list[Attempt] = []
    lock = threading.Lock()

    def go(how: str, elsewhere: bool) -> None:
        attempt = issue(
            client,
            card,
            blind=None if how == "card" else _other_r,
            auth=OTHER_KIOSK if elsewhere else AUTH,
            kiosk_id="kiosk-02" if elsewhere else "kiosk-01",
        )
        with lock:
            attempts.append(attempt)

    for how, elsewhere, parallel in steps:
        threads = [threading.Thread(target=go, args=(how, elsewhere)) for _ in range(parallel)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(attempts) == sum(p for _, _, p in steps)
    assert {a.code for a in attempts} <= {"ok", "different_request"}
    tokens_seen = {_token_of(client, a) for a in attempts if a.status == 200}
    assert None not in tokens_seen, "an answer that does not unblind to a valid token"
    assert len(tokens_seen) == 1  # the first request always succeeds, and only one token
