"""Registrar fixtures: a JPKI test PKI with CRLs, a key file or SoftHSM2 signer, SQLite or a
real PostgreSQL server started here, and a kiosk that runs the issuance flow."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils
from cryptography.hazmat.primitives.serialization import Encoding
from flask import Flask

from card_reader.testpki import CertificateAuthority, Resident, VoterCard, make_card
from election import token as tokens
from election.primitives import blind_rsa
from kiosk.core.tokenflow import IssuedToken, obtain_token
from kiosk.testing import ImageCard
from registrar.app import create_app, hash_secret
from registrar.client import RegistrarRefused
from registrar.server import make_server
from registrar.signer import KeyFileSigner

ELECTION_ID = bytes(range(32))
ELECTION_DAY = dt.date(2026, 12, 6)
KIOSK, SECRET = "kiosk-01", "s3cret-kiosk-01"


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A real PostgreSQL server on a free loopback port (stopped by pid at the end)."""
    from tally_server.testing import postgres_server

    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registrar.db'}"
    url: str = request.getfixturevalue("postgres")
    from sqlalchemy import create_engine

    from registrar.ledger import Base

    engine = create_engine(url)
    Base.metadata.drop_all(engine)  # a clean ledger for each test
    engine.dispose()
    return url


@dataclass
class Pki:
    ca: CertificateAuthority
    other_ca: CertificateAuthority
    directory: Path
    revoked: list[int] = field(default_factory=list)

    @property
    def ca_path(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def crl_path(self) -> Path:
        return self.directory / "crl.der"

    def write_crl(
        self, *, next_update: dt.datetime | None = None, this_update: dt.datetime | None = None
    ) -> None:
        crl = self.ca.crl(self.revoked, this_update=this_update, next_update=next_update)
        self.crl_path.write_bytes(crl.public_bytes(Encoding.DER))
        future = time.time() + len(self.revoked) + 1  # make the file's mtime change for reload
        os.utime(self.crl_path, (future, future))

    def card(self, resident: Resident | None = None, **options: Any) -> VoterCard:
        return make_card(self.ca, resident or Resident(), **options)


@pytest.fixture(scope="session")
def _cas() -> tuple[CertificateAuthority, CertificateAuthority]:
    return CertificateAuthority.create(), CertificateAuthority.create("Some Other Signature CA")


@pytest.fixture
def pki(tmp_path: Path, _cas: tuple[CertificateAuthority, CertificateAuthority]) -> Pki:
    pki = Pki(_cas[0], _cas[1], tmp_path / "pki")
    pki.directory.mkdir()
    pki.ca_path.write_bytes(pki.ca.certificate.public_bytes(Encoding.PEM))
    pki.write_crl()
    return pki


@pytest.fixture(scope="session")
def keyfile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "registrar-key.pem"
    KeyFileSigner.generate(path)
    return path


@pytest.fixture
def clock() -> list[dt.datetime]:
    return [dt.datetime.now(dt.UTC)]


def base_config(
    database_url: str, pki: Pki, signer: dict[str, Any], clock: list[dt.datetime]
) -> dict[str, Any]:
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "ELECTION_ID": ELECTION_ID.hex(),
        "ELECTION_DAY": ELECTION_DAY.isoformat(),
        "MUNICIPALITY": "茨城県つくば市",
        "MINIMUM_AGE": 18,
        "CA_CERTS": [str(pki.ca_path)],
        "CRLS": [str(pki.crl_path)],
        "KIOSKS": {KIOSK: hash_secret(SECRET), "kiosk-02": hash_secret("other")},
        "SIGNER": signer,
        "NOW": lambda: clock[0],
    }


@pytest.fixture
def app(database_url: str, pki: Pki, keyfile: Path, clock: list[dt.datetime]) -> Flask:
    return create_app(
        base_config(database_url, pki, {"type": "keyfile", "path": str(keyfile)}, clock)
    )


class HttpResponse:
    """What the tests read of a response: status, JSON body (None if not JSON), headers."""

    def __init__(self, response: requests.Response) -> None:
        self.status_code = response.status_code
        self.headers = response.headers
        try:
            self.json: Any = response.json()
        except ValueError:
            self.json = None


class HttpClient:
    """Talks to the registrar over real HTTP (a new connection per call, so threads may share
    it); the same calls as Flask's test client, which the helpers below use."""

    def __init__(self, base_url: str, **options: Any) -> None:
        self.base_url, self.options = base_url.rstrip("/"), options

    def request(self, method: str, path: str, **kwargs: Any) -> HttpResponse:
        kwargs.setdefault("timeout", 30)
        return HttpResponse(
            requests.request(method, self.base_url + path, **self.options, **kwargs)
        )

    def get(self, path: str, **kwargs: Any) -> HttpResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> HttpResponse:
        return self.request("POST", path, **kwargs)


@contextlib.contextmanager
def serving(app: Flask) -> Iterator[str]:
    """The app under the production server (cheroot) on a free loopback port in this
    process; stopped at the end."""
    with production_server(app) as (url, _server):
        yield url


@contextlib.contextmanager
def production_server(app: Flask, **options: Any) -> Iterator[tuple[str, Any]]:
    server = make_server(app, "127.0.0.1", 0, **options)
    server.prepare()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    scheme = "https" if options.get("tls_cert") else "http"
    try:
        yield f"{scheme}://127.0.0.1:{server.bind_addr[1]}", server
    finally:
        server.stop()
        thread.join(timeout=10)


@pytest.fixture
def client(app: Flask) -> Iterator[HttpClient]:
    """The registrar over real HTTP."""
    with serving(app) as url:
        yield HttpClient(url)


AUTH = {"Authorization": f"Bearer {KIOSK}:{SECRET}"}


def card_sign(card: VoterCard, digest: bytes) -> bytes:
    """What the JPKI applet computes: PKCS#1 v1.5 over DigestInfo(SHA-256, digest)."""
    return card.sign_key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))


@dataclass
class Attempt:
    status: int
    body: dict[str, Any]
    token: tokens.TokenKey | None
    """The token: issued (the honest kiosk) or chosen (a kiosk that blinds otherwise)."""
    blinded_msg: bytes
    """The blinded value sent (empty if the flow stopped before sending one)."""
    blinding: blind_rsa.BlindingResult | None = None
    """Only for a kiosk that blinds otherwise: the honest flow keeps its blinding inside
    :func:`kiosk.core.tokenflow.obtain_token`."""
    issued: IssuedToken | None = None
    """The honest flow's verified token, when the registrar issued one."""

    @property
    def code(self) -> str:
        return str(self.body.get("error", {}).get("code", "ok"))


class ClientRegistrar:
    """The registrar as :func:`kiosk.core.tokenflow.obtain_token` sees it, over the Flask test
    client or :class:`HttpClient`, keeping the last answer's status and body for the tests."""

    def __init__(
        self, client: Any, *, auth: dict[str, str], kiosk_id: str, nonce: str | None = None
    ) -> None:
        self.client, self.auth, self.kiosk_id = client, auth, kiosk_id
        self._nonce = nonce
        self.status = 0
        self.body: dict[str, Any] = {}
        self.blinded = b""

    def _answer(self, response: Any) -> dict[str, Any]:
        self.status, self.body = response.status_code, dict(response.json or {})
        if self.status >= 400:
            error = self.body.get("error", {})
            raise RegistrarRefused(
                error.get("code", f"http_{self.status}"),
                error.get("message_ja", ""),
                error.get("message_en", ""),
            )
        return self.body

    def info(self) -> tuple[bytes, blind_rsa.RSAPublicKey]:
        data = self._answer(self.client.get("/v1/info"))
        key = data["registrar_key"]
        return bytes.fromhex(data["election_id"]), blind_rsa.RSAPublicKey(
            int(key["n"], 16), int(key["e"])
        )

    def challenge(self) -> bytes:
        if self._nonce is not None:  # a challenge the test took earlier
            return bytes.fromhex(self._nonce)
        return bytes.fromhex(
            self._answer(self.client.post("/v1/challenges", headers=self.auth))["nonce"]
        )

    def issue(
        self, nonce: bytes, certificate: bytes, card_signature: bytes, blinded_token: bytes
    ) -> bytes:
        self.blinded = blinded_token
        body = {
            "nonce": nonce.hex(),
            "certificate": base64.b64encode(certificate).decode(),
            "card_signature": base64.b64encode(card_signature).decode(),
            "blinded_token": base64.b64encode(blinded_token).decode(),
        }
        data = self._answer(self.client.post("/v1/tokens", headers=self.auth, json=body))
        return base64.b64decode(data["blind_signature"])


def registrar_key_of(client: Any) -> blind_rsa.RSAPublicKey:
    info = client.get("/v1/info").json
    return blind_rsa.RSAPublicKey(int(info["registrar_key"]["n"], 16), info["registrar_key"]["e"])


def issue(
    client: Any,
    card: VoterCard,
    *,
    auth: dict[str, str] = AUTH,
    nonce: str | None = None,
    kiosk_id: str = KIOSK,
    sign_with: VoterCard | None = None,
    certificate: bytes | None = None,
    blind: Callable[[blind_rsa.RSAPublicKey], tuple[tokens.TokenKey, blind_rsa.BlindingResult]]
    | None = None,
) -> Attempt:
    """One issuance. The honest kiosk runs the kiosk's own token flow,
    :func:`kiosk.core.tokenflow.obtain_token`; ``sign_with``, ``certificate`` and ``blind``
    make a kiosk (or an attacker) that departs from it, to show the registrar's refusals."""
    if sign_with is None and certificate is None and blind is None:
        registrar = ClientRegistrar(client, auth=auth, kiosk_id=kiosk_id, nonce=nonce)
        try:
            issued: IssuedToken | None = obtain_token(
                ImageCard(card), registrar, ELECTION_ID, registrar_key_of(client)
            )
        except RegistrarRefused:
            issued = None
        return Attempt(
            registrar.status,
            registrar.body,
            issued.key if issued else None,
            registrar.blinded,
            issued=issued,
        )
    return _departing_issue(client, card, auth, nonce, kiosk_id, sign_with, certificate, blind)


def _departing_issue(
    client: Any,
    card: VoterCard,
    auth: dict[str, str],
    nonce: str | None,
    kiosk_id: str,
    sign_with: VoterCard | None,
    certificate: bytes | None,
    blind: Callable[[blind_rsa.RSAPublicKey], tuple[tokens.TokenKey, blind_rsa.BlindingResult]]
    | None,
) -> Attempt:
    """Issuance request by request, with the given parts replaced."""
    if nonce is None:
        r = client.post("/v1/challenges", headers=auth)
        assert r.status_code == 201, r.json
        nonce = r.json["nonce"]
    signer = sign_with or card
    card_sig = card_sign(signer, tokens.challenge_digest(bytes.fromhex(nonce), kiosk_id))
    registrar_key = registrar_key_of(client)
    if blind is None:
        token_sig = card_sign(card, tokens.token_request_digest(ELECTION_ID))
        token, blinding = tokens.blind_token(registrar_key, ELECTION_ID, token_sig)
    else:  # a kiosk that blinds otherwise (another token, or another blinding factor)
        token, blinding = blind(registrar_key)
    der = (
        certificate if certificate is not None else card.sign_certificate.public_bytes(Encoding.DER)
    )
    r = client.post(
        "/v1/tokens",
        headers=auth,
        json={
            "nonce": nonce,
            "certificate": base64.b64encode(der).decode(),
            "card_signature": base64.b64encode(card_sig).decode(),
            "blinded_token": base64.b64encode(blinding.blinded_msg).decode(),
        },
    )
    return Attempt(r.status_code, r.json or {}, token, blinding.blinded_msg, blinding)
