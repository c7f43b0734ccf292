"""Benchmark of the registrar: issuances per second with full path validation, CRL check,
card-signature check, rules, ledger write, audit entry and blind signing.

    .venv/bin/python bench/bench_registrar.py [--voters 300]

Runs in process (Flask test client) and over HTTP (the production server, cheroot, in its own
process on 127.0.0.1 — as `ippyo registrar serve` runs it — with 4 concurrent kiosk threads),
on SQLite, with the key-file signer. Every issuance request is built by the kiosk's own flow,
:func:`kiosk.core.tokenflow.obtain_token`, with in-process TEST cards: untimed, with a registrar
that answers info and challenges for real and keeps the issuance request instead of sending it;
the timed phase then sends those requests (the registrar's work only). A last figure times the
whole flow per voter in process (info, challenge, two card signatures, blinding, issuance,
unblinding and verification) as one kiosk sees it. Prints JSON lines and a table; never fails.
"""

from __future__ import annotations

import argparse
import contextlib
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

from card_reader.testpki import CertificateAuthority, Resident, VoterCard, make_card, new_key
from election.primitives.blind_rsa import RSAPublicKey
from kiosk.core.tokenflow import Registrar, obtain_token
from kiosk.testing import ImageCard
from registrar.app import create_app, hash_secret
from registrar.client import RegistrarClient
from registrar.server import make_server
from registrar.signer import KeyFileSigner
from tests.registrar.conftest import ELECTION_ID, ClientRegistrar


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

    # In process: requests built by the kiosk's flow (untimed), then sent (timed).
    app = create_app(config("inproc.db"))
    pinned = app.extensions["ippyo_registrar"]["signer"].public_key
    auth = {"Authorization": "Bearer k0:s"}
    registrar = ClientRegistrar(app.test_client(), auth=auth, kiosk_id="k0")
    requests_ = _prepare(registrar, cards[: args.voters], pinned)
    t0 = time.perf_counter()
    for request in requests_:
        registrar.issue(*request)
    rate = len(requests_) / (time.perf_counter() - t0)
    rows.append(
        {"figure": "issuances_per_s_in_process", "value": round(rate, 1), "voters": len(requests_)}
    )
    print(json.dumps(rows[-1]), flush=True)

    # Over HTTP: each kiosk thread sends the requests the kiosk's flow built for its voters.
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
    clients = [RegistrarClient(url, f"k{i}", "s") for i in range(args.threads)]
    work = [_prepare(c, share, pinned) for c, share in zip(clients, shares, strict=True)]
    errors: list[str] = []

    def kiosk(client: RegistrarClient, items: list[Request]) -> None:
        for request in items:
            try:
                client.issue(*request)
            except Exception as exc:  # counted and reported, the run goes on
                errors.append(f"{type(exc).__name__}: {exc}")

    threads = [
        threading.Thread(target=kiosk, args=(c, w)) for c, w in zip(clients, work, strict=True)
    ]
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

    # The whole flow, as one kiosk runs it, in process (a fresh ledger).
    whole = ClientRegistrar(create_app(config("whole.db")).test_client(), auth=auth, kiosk_id="k0")
    t0 = time.perf_counter()
    for card in cards[: args.voters]:
        obtain_token(ImageCard(card), whole, ELECTION_ID, pinned)
    rate = args.voters / (time.perf_counter() - t0)
    rows.append(
        {"figure": "whole_flows_per_s_in_process", "value": round(rate, 1), "voters": args.voters}
    )
    print(json.dumps(rows[-1]), flush=True)
    print("\nfigure                        issuances/s")
    for r in rows:
        print(f"{r['figure']:<29} {r['value']:>10}")


Request = tuple[bytes, bytes, bytes, bytes]
"""An issuance request: nonce, certificate, card signature, blinded token."""


class _Kept(Exception):
    pass


class _Keeping:
    """The registrar as obtain_token sees it, for the untimed phase: info and challenges are
    real; the issuance request is kept instead of sent (and the flow stops there)."""

    def __init__(self, inner: Registrar) -> None:
        self.inner, self.kiosk_id = inner, inner.kiosk_id
        self.info_answer = inner.info()
        self.kept: list[Request] = []

    def info(self) -> tuple[bytes, RSAPublicKey]:
        return self.info_answer

    def challenge(self) -> bytes:
        return self.inner.challenge()

    def issue(
        self, nonce: bytes, certificate: bytes, card_signature: bytes, blinded_token: bytes
    ) -> bytes:
        self.kept.append((nonce, certificate, card_signature, blinded_token))
        raise _Kept()


def _prepare(registrar: Registrar, cards: list[VoterCard], pinned: RSAPublicKey) -> list[Request]:
    keeping = _Keeping(registrar)
    for card in cards:
        with contextlib.suppress(_Kept):
            obtain_token(ImageCard(card), keeping, ELECTION_ID, pinned)
    return keeping.kept


def _serve(config: dict[str, Any], port: int) -> None:
    make_server(create_app(config), "127.0.0.1", port).safe_start()


if __name__ == "__main__":
    main()
