"""The PKCS#11 signer (SoftHSM2), what the registrar keeps (never a token), and the whole
kiosk flow over real HTTP with the virtual card in the real PC/SC stack."""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import MetaData, select
from werkzeug.serving import make_server

from election import token as tokens
from election.primitives import blind_rsa
from kiosk.core.tokenflow import obtain_token
from registrar.app import create_app
from registrar.client import RegistrarClient, RegistrarRefused
from registrar.signer import Pkcs11Signer

from .conftest import ELECTION_ID, KIOSK, SECRET, Pki, base_config, issue

SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"


@pytest.fixture(scope="module")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A private SoftHSM2 token with a registrar key generated inside it."""
    directory = tmp_path_factory.mktemp("softhsm")
    (directory / "tokens").mkdir()
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {directory / 'tokens'}\nobjectstore.backend = file\n")
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            "ippyo-registrar",
            "--so-pin",
            "5678",
            "--pin",
            "1234",
        ],
        check=True,
        capture_output=True,
    )
    Pkcs11Signer.generate(SOFTHSM, "ippyo-registrar", "1234", "registrar-2026")
    yield {
        "type": "pkcs11",
        "module": SOFTHSM,
        "token_label": "ippyo-registrar",
        "pin": "1234",
        "key_label": "registrar-2026",
    }
    if old is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = old


def test_pkcs11_signer_issues_verifiable_tokens(
    softhsm: dict[str, str], pki: Pki, tmp_path: Path, clock: list[dt.datetime]
) -> None:
    app = create_app(base_config(f"sqlite:///{tmp_path / 'r.db'}", pki, softhsm, clock))
    client = app.test_client()
    attempt = issue(client, pki.card())
    assert attempt.status == 200 and attempt.issued is not None, attempt.body
    signer = app.extensions["ippyo_registrar"]["signer"]
    tokens.verify_token_signature(
        signer.public_key, ELECTION_ID, attempt.issued.address, attempt.issued.signature
    )
    # The key never left the token: it is sensitive and not extractable.
    from pkcs11 import Attribute

    key = signer._key
    assert key[Attribute.SENSITIVE] and not key[Attribute.EXTRACTABLE]


def test_nothing_stored_or_logged_contains_the_token(
    app: Flask, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    client = app.test_client()
    caplog.set_level(logging.DEBUG)
    attempts = [issue(client, pki.card()), issue(client, pki.card())]  # an issue and a refusal
    secrets = []
    for a in attempts:
        secrets.append(a.blinded_msg)
        if a.token is not None:
            secrets.append(a.token.address)
    import base64

    secrets.append(base64.b64decode(attempts[0].body["blind_signature"]))
    forms = set()
    for value in secrets:
        forms |= {
            value.hex(),
            value.hex().upper(),
            base64.b64encode(value).decode(),
            "0x" + value.hex(),
        }
    ledger = app.extensions["ippyo_registrar"]["ledger"]
    dump = []
    meta = MetaData()
    meta.reflect(ledger.engine)
    with ledger.engine.connect() as conn:
        for table in meta.sorted_tables:
            dump += [repr(tuple(row)) for row in conn.execute(select(table))]
    stored = "\n".join(dump) + "\n" + caplog.text
    assert len(dump) >= 4  # challenges, the issuance, audit entries
    for form in forms:
        assert form[:40] not in stored


@pytest.fixture
def http_registrar(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


class ReplayableRegistrar(RegistrarClient):
    """The kiosk's registrar client, remembering the last issuance request it sent."""

    sent: tuple[bytes, bytes, bytes, bytes] | None = None

    def issue(
        self, nonce: bytes, certificate: bytes, card_signature: bytes, blinded_token: bytes
    ) -> bytes:
        self.sent = (nonce, certificate, card_signature, blinded_token)
        return super().issue(nonce, certificate, card_signature, blinded_token)


def test_kiosk_flow_over_http_with_the_virtual_card(
    http_registrar: str, pki: Pki, app: Flask
) -> None:
    from card_reader.pcsc import PcscCard, wait_for_reader_state
    from card_reader.stack import VIRTUAL_READER, ensure_pcscd, stop_pcscd
    from card_reader.virtual_card import JPKIApplet, VpcdCard

    pinned = app.extensions["ippyo_registrar"]["signer"].public_key
    started = ensure_pcscd()
    card_image = pki.card()
    served = VpcdCard(JPKIApplet(card_image.to_image()))
    served.insert()
    try:
        wait_for_reader_state(VIRTUAL_READER, True)
        registrar = ReplayableRegistrar(http_registrar, KIOSK, SECRET)
        election_id, _ = registrar.info()
        with PcscCard.connect(VIRTUAL_READER) as card:
            card.verify_signature_pin("ABC123")
            # The kiosk's own flow; the key it checks the registrar against is the signer's.
            issued = obtain_token(card, registrar, election_id, pinned)
        blind_rsa.verify(
            pinned,
            blind_rsa.Variant.IPPYO,
            tokens.token_message(election_id, issued.address),
            issued.signature,
        )
        assert registrar.sent is not None
        with pytest.raises(RegistrarRefused) as info:
            registrar.issue(*registrar.sent)  # the very same request again
        assert info.value.code == "challenge_reused" and info.value.message_ja
        with pytest.raises(RegistrarRefused) as info:
            RegistrarClient(http_registrar, KIOSK, "wrong").challenge()
        assert info.value.code == "unauthenticated_kiosk"
    finally:
        served.remove()
        wait_for_reader_state(VIRTUAL_READER, False)
        import time

        time.sleep(1.0)
        stop_pcscd(started)
