"""Benchmark of the card layer through the real stack (pcscd + vpcd + the virtual card).

    .venv/bin/python bench/bench_card.py [--rounds 20]

Figures: time from card insertion to the signature certificate read (insert, pcscd notices,
connect, SELECT AP, PIN status, VERIFY, read the certificate), and one signature — through
pyscard and through OpenSC's PKCS#11 module. Prints JSON lines and a table; never fails.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time
from typing import Any

from card_reader.pcsc import PcscCard, wait_for_reader_state
from card_reader.pkcs11 import Pkcs11Card
from card_reader.stack import VIRTUAL_READER, ensure_pcscd, stop_pcscd
from card_reader.testpki import CertificateAuthority, make_card
from card_reader.virtual_card import JPKIApplet, VpcdCard


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    started = ensure_pcscd()
    image = make_card(CertificateAuthority.create()).to_image()
    rows: dict[str, list[float]] = {
        k: []
        for k in (
            "insert_to_present_ms",
            "insert_to_certificate_pcsc_ms",
            "sign_pcsc_ms",
            "login_to_certificate_pkcs11_ms",
            "sign_pkcs11_ms",
        )
    }
    digest = hashlib.sha256(b"bench").digest()
    try:
        for _ in range(args.rounds):
            card = VpcdCard(JPKIApplet(image))
            t0 = time.perf_counter()
            card.insert()
            wait_for_reader_state(VIRTUAL_READER, True)
            rows["insert_to_present_ms"].append((time.perf_counter() - t0) * 1e3)
            with PcscCard.connect(VIRTUAL_READER) as jpki:
                jpki.signature_pin_tries_left()
                jpki.verify_signature_pin("ABC123")
                jpki.read_signature_certificate()
                rows["insert_to_certificate_pcsc_ms"].append((time.perf_counter() - t0) * 1e3)
                t1 = time.perf_counter()
                jpki.sign_sha256(digest)
                rows["sign_pcsc_ms"].append((time.perf_counter() - t1) * 1e3)
            t2 = time.perf_counter()
            with Pkcs11Card.open(VIRTUAL_READER) as p11:
                p11.verify_signature_pin("ABC123")
                p11.read_signature_certificate()
                rows["login_to_certificate_pkcs11_ms"].append((time.perf_counter() - t2) * 1e3)
                t3 = time.perf_counter()
                p11.sign_sha256(digest)
                rows["sign_pkcs11_ms"].append((time.perf_counter() - t3) * 1e3)
            card.remove()
            wait_for_reader_state(VIRTUAL_READER, False)
            time.sleep(1.0)
    finally:
        stop_pcscd(started)
    out: dict[str, Any] = {}
    for name, values in rows.items():
        out[name] = {"median": round(statistics.median(values), 1), "max": round(max(values), 1)}
        print(json.dumps({"figure": name, **out[name], "rounds": args.rounds}))
    print("\nfigure                            median ms   max ms")
    for name, v in out.items():
        print(f"{name:<33} {v['median']:>9}  {v['max']:>7}")


if __name__ == "__main__":
    main()
