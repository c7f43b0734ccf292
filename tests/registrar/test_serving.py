"""Production serving over TLS on 127.0.0.1 (cheroot, as `ippyo registrar serve` runs it),
with and without required kiosk client certificates, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from flask import Flask

from election import token as tokens
from kiosk.core.tokenflow import obtain_token
from kiosk.testing import ImageCard
from registrar.client import RegistrarClient, RegistrarRefused, RegistrarUnavailable

from .conftest import ELECTION_ID, KIOSK, SECRET, HttpClient, Pki, issue, production_server


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(
    subject: str, issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None, **kind: bool
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    issuer_name, issuer_key = issuer or (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if kind.get("server"):
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    if kind.get("client"):
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256()), key


def _write(directory: Path, stem: str, cert: x509.Certificate, key: object) -> tuple[str, str]:
    crt, pem = directory / f"{stem}.crt", directory / f"{stem}.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(
        key.private_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(crt), str(pem)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("tls")
    ca, ca_key = _cert("ippyo test TLS CA", None)
    server, server_key = _cert("registrar", (ca.subject, ca_key), server=True)
    kiosk_ca, kiosk_ca_key = _cert("ippyo kiosk CA", None)
    kiosk, kiosk_key = _cert("kiosk-01", (kiosk_ca.subject, kiosk_ca_key), client=True)
    stranger_ca, stranger_ca_key = _cert("someone else's CA", None)
    stranger, stranger_key = _cert("kiosk-01", (stranger_ca.subject, stranger_ca_key), client=True)
    out = {}
    out["ca"], _ = _write(d, "ca", ca, ca_key)
    out["cert"], out["key"] = _write(d, "server", server, server_key)
    out["kiosk_ca"], _ = _write(d, "kiosk_ca", kiosk_ca, kiosk_ca_key)
    out["kiosk_cert"], out["kiosk_key"] = _write(d, "kiosk", kiosk, kiosk_key)
    out["stranger_cert"], out["stranger_key"] = _write(d, "stranger", stranger, stranger_key)
    return out


def test_tls(app: Flask, pki: Pki, tls: dict[str, str]) -> None:
    with production_server(app, tls_cert=tls["cert"], tls_key=tls["key"]) as (url, _):
        assert url.startswith("https://127.0.0.1:")
        client = HttpClient(url, verify=tls["ca"])
        assert issue(client, pki.card()).status == 200
        with pytest.raises(requests.exceptions.SSLError):  # the server's CA is not trusted
            requests.get(url + "/healthz", timeout=10)
        with pytest.raises(requests.exceptions.ConnectionError):  # no TLS, no answer
            requests.get(url.replace("https", "http") + "/healthz", timeout=10)


def test_mtls_required(app: Flask, pki: Pki, tls: dict[str, str]) -> None:
    with production_server(
        app, tls_cert=tls["cert"], tls_key=tls["key"], client_ca=tls["kiosk_ca"]
    ) as (url, _):
        kiosk = HttpClient(url, verify=tls["ca"], cert=(tls["kiosk_cert"], tls["kiosk_key"]))
        assert issue(kiosk, pki.card()).status == 200
        for cert in (None, (tls["stranger_cert"], tls["stranger_key"])):
            with pytest.raises(requests.exceptions.ConnectionError):
                requests.get(url + "/healthz", verify=tls["ca"], cert=cert, timeout=10)


def test_a_kiosk_certificate_is_good_only_for_its_own_kiosk_id(
    app: Flask, pki: Pki, tls: dict[str, str]
) -> None:
    """kiosk-01's client certificate with kiosk-02's (valid) secret: refused by name, and
    nothing is issued; with its own id it is served."""
    with production_server(
        app, tls_cert=tls["cert"], tls_key=tls["key"], client_ca=tls["kiosk_ca"]
    ) as (url, _):
        kiosk01 = HttpClient(url, verify=tls["ca"], cert=(tls["kiosk_cert"], tls["kiosk_key"]))
        posing = issue(kiosk01, pki.card(), auth={"Authorization": "Bearer kiosk-02:other"})
        assert (posing.status, posing.code) == (403, "kiosk_certificate_mismatch")
        assert posing.body["error"]["message_ja"]
        r = kiosk01.post("/v1/challenges", headers={"Authorization": "Bearer kiosk-02:other"})
        assert r.status_code == 403 and r.json["error"]["code"] == "kiosk_certificate_mismatch"
        assert app.extensions["ippyo_registrar"]["ledger"].issuance_count() == 0
        assert issue(kiosk01, pki.card()).status == 200


def test_the_kiosks_client_and_token_flow_over_mtls(
    app: Flask, pki: Pki, tls: dict[str, str]
) -> None:
    """The kiosk's own RegistrarClient with its client certificate, through obtain_token."""
    with production_server(
        app, tls_cert=tls["cert"], tls_key=tls["key"], client_ca=tls["kiosk_ca"]
    ) as (url, _):
        pinned = app.extensions["ippyo_registrar"]["signer"].public_key
        cert = (tls["kiosk_cert"], tls["kiosk_key"])
        kiosk = RegistrarClient(url, KIOSK, SECRET, verify=tls["ca"], client_cert=cert)
        issued = obtain_token(ImageCard(pki.card()), kiosk, ELECTION_ID, pinned)
        tokens.verify_token_signature(pinned, ELECTION_ID, issued.address, issued.signature)
        posing = RegistrarClient(url, "kiosk-02", "other", verify=tls["ca"], client_cert=cert)
        with pytest.raises(RegistrarRefused) as info:
            posing.challenge()
        assert info.value.code == "kiosk_certificate_mismatch"
        with pytest.raises(RegistrarUnavailable):  # no client certificate: no handshake
            RegistrarClient(url, KIOSK, SECRET, verify=tls["ca"]).challenge()


def test_client_ca_needs_tls(app: Flask, tls: dict[str, str]) -> None:
    from registrar.server import make_server

    with pytest.raises(ValueError, match="TLS"):
        make_server(app, "127.0.0.1", 0, client_ca=tls["kiosk_ca"])


def test_a_slow_body_is_cut_off(app: Flask) -> None:
    """A kiosk (or attacker) that sends headers and then stalls frees its worker after the
    read timeout."""
    import socket
    import time

    with production_server(app, timeout=1) as (url, _):
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=15) as s:
            s.sendall(
                b"POST /v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1000\r\n\r\n{"
            )
            start = time.monotonic()
            answer = b""
            while chunk := s.recv(4096):
                answer += chunk
            assert time.monotonic() - start < 10
        assert b"200 OK" not in answer


def test_serve_command_with_tls_and_client_certificates(
    tmp_path: Path, pki: Pki, keyfile: Path, tls: dict[str, str]
) -> None:
    """`ippyo registrar serve` as an operator runs it, with TLS and required kiosk certs."""
    import os
    import socket
    import subprocess
    import sys
    import time

    from .conftest import ELECTION_ID

    serve = [sys.executable, "-m", "ippyo", "registrar", "serve"]
    config = tmp_path / "registrar.toml"
    config.write_text(
        f'DATABASE_URL = "sqlite:///{tmp_path / "r.db"}"\nELECTION_ID = "{ELECTION_ID.hex()}"\n'
        f'ELECTION_DAY = "2026-12-06"\nMUNICIPALITY = "茨城県つくば市"\n'
        f'CA_CERTS = ["{pki.ca_path}"]\nCRLS = ["{pki.crl_path}"]\n'
        f'TLS_CERT = "{tls["cert"]}"\nTLS_KEY = "{tls["key"]}"\n'
        f'TLS_CLIENT_CA = "{tls["kiosk_ca"]}"\n'
        f'SIGNER = {{ type = "keyfile", path = "{keyfile}" }}\n'
        '[KIOSKS]\n"kiosk-01" = "' + "0" * 64 + '"\n'
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [*serve, "--config", str(config), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ),
    )
    url = f"https://127.0.0.1:{port}"
    kiosk_cert = (tls["kiosk_cert"], tls["kiosk_key"])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                info = requests.get(url + "/v1/info", verify=tls["ca"], cert=kiosk_cert, timeout=2)
                break
            except requests.exceptions.ConnectionError:
                assert time.monotonic() < deadline and server.poll() is None, "serve did not start"
                time.sleep(0.2)
        assert info.json()["election_id"] == ELECTION_ID.hex()
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(url + "/v1/info", verify=tls["ca"], timeout=5)
    finally:
        server.terminate()  # the server this test started
        server.wait(timeout=10)
