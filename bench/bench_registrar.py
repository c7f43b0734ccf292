"""Benchmark of the registrar: issuances per second with full path validation, CRL check,
card-signature check, rules, ledger write, audit entry and blind signing.

    .venv/bin/python bench/bench_registrar.py [--voters 300]

Runs in process (Flask test client) and over HTTP (the production server, cheroot, in its own
process on 127.0.0.1 — as `ippyo registrar serve` runs it — with 4 concurrent kiosk threads),
on SQLite, with the key-file signer. The kiosks' card work (signing the
challenge and the token request, blinding) is done before timing: it happens on the kiosks.
Prints JSON lines and a table; never fails.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import multiprocessing
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives.serialization import Encoding

from card_reader.testpki import CertificateAuthority, Resident, make_card, new_key
from election import token as tokens
from registrar.app import create_app, hash_secret
from registrar.server import make_server
from registrar.signer import KeyFileSigner
from tests.registrar.conftest import ELECTION_ID, card_sign


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--voters", type=int, default=300)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ippyo-bench-registrar-"))
    ca = CertificateAuthority.create()
    (tmp / "ca.pem").write_bytes(ca.certificate.public_bytes(Encoding.PEM))
    # A CRL with 2,000 revoked serials, like a real one.
    (tmp / "crl.der").write_bytes(ca.crl(list(range(10_000, 12_000))).public_bytes(Encoding.DER))
    KeyFileSigner.generate(tmp / "key.pem")
    print(f"minting {2 * args.voters} voter certificates…", flush=True)
    shared_key = new_key()  # one card key for all: minting is not what is measured
    cards = [
        make_card(
            ca,
            key=shared_key,
            resident=Resident(
                name=f"投票者 {i}", date_of_birth=dt.date(1960 + i % 40, 1 + i % 12, 1)
            ),
        )
        for i in range(2 * args.voters)
    ]
    rows: list[dict[str, Any]] = []

    def config(db: str) -> dict[str, Any]:
        return {
            "DATABASE_URL": f"sqlite:///{tmp / db}",
            "ELECTION_ID": ELECTION_ID.hex(),
            "ELECTION_DAY": "2026-12-06",
            "MUNICIPALITY": "茨城県つくば市",
            "CA_CERTS": [str(tmp / "ca.pem")],
            "CRLS": [str(tmp / "crl.der")],
            "KIOSKS": {f"k{i}": hash_secret("s") for i in range(args.threads)},
            "SIGNER": {"type": "keyfile", "path": str(tmp / "key.pem")},
            "CHALLENGES_PER_MINUTE": 10**6,
        }

    def prepared(card: Any, nonce: bytes, kiosk: str, key: Any) -> dict[str, str]:
        _, blinding = tokens.blind_token(
            key, ELECTION_ID, card_sign(card, tokens.token_request_digest(ELECTION_ID))
        )
        return {
            "nonce": nonce.hex(),
            "certificate": base64.b64encode(
                card.sign_certificate.public_bytes(Encoding.DER)
            ).decode(),
            "card_signature": base64.b64encode(
                card_sign(card, tokens.challenge_digest(nonce, kiosk))
            ).decode(),
            "blinded_token": base64.b64encode(blinding.blinded_msg).decode(),
        }

    # In process: challenges first (kiosk side), then the timed issuance requests.
    app = create_app(config("inproc.db"))
    client = app.test_client()
    key = app.extensions["ippyo_registrar"]["signer"].public_key
    auth = {"Authorization": "Bearer k0:s"}
    bodies = []
    for card in cards[: args.voters]:
        nonce = bytes.fromhex(client.post("/v1/challenges", headers=auth).json["nonce"])  # type: ignore[index]
        bodies.append(prepared(card, nonce, "k0", key))
    t0 = time.perf_counter()
    for body in bodies:
        assert client.post("/v1/tokens", headers=auth, json=body).status_code == 200
    rate = len(bodies) / (time.perf_counter() - t0)
    rows.append(
        {"figure": "issuances_per_s_in_process", "value": round(rate, 1), "voters": len(bodies)}
    )
    print(json.dumps(rows[-1]), flush=True)

    # Over HTTP: each kiosk thread asks for a challenge, then the token, for its voters.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = multiprocessing.get_context("fork").Process(
        target=_serve, args=(config("http.db"), port), daemon=True
    )
    server.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(url + "/healthz", timeout=1)
            break
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    shares = [
        cards[args.voters + i :: args.threads][: args.voters // args.threads]
        for i in range(args.threads)
    ]
    work: list[list[tuple[dict[str, str], dict[str, str]]]] = []
    for i, share in enumerate(shares):
        s = requests.Session()
        h = {"Authorization": f"Bearer k{i}:s"}
        items = []
        for card in share:
            nonce = bytes.fromhex(s.post(url + "/v1/challenges", headers=h).json()["nonce"])
            items.append((h, prepared(card, nonce, f"k{i}", key)))
        work.append(items)
    errors: list[str] = []

    def kiosk(items: list[tuple[dict[str, str], dict[str, str]]]) -> None:
        s = requests.Session()
        for h, body in items:
            r = s.post(url + "/v1/tokens", headers=h, json=body)
            if r.status_code != 200:
                errors.append(r.text)

    threads = [threading.Thread(target=kiosk, args=(w,)) for w in work]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = sum(len(w) for w in work)
    rate = total / (time.perf_counter() - t0)
    server.terminate()  # the server process this benchmark started
    server.join(10)
    rows.append(
        {
            "figure": "issuances_per_s_http",
            "value": round(rate, 1),
            "voters": total,
            "kiosk_threads": args.threads,
            "errors": len(errors),
        }
    )
    print(json.dumps(rows[-1]), flush=True)
    print("\nfigure                        issuances/s")
    for r in rows:
        print(f"{r['figure']:<29} {r['value']:>10}")


def _serve(config: dict[str, Any], port: int) -> None:
    make_server(create_app(config), "127.0.0.1", port).safe_start()


if __name__ == "__main__":
    main()
