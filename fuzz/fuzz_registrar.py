"""Fuzz target (atheris) for the registrar's request bodies.

    .venv/bin/python fuzz/fuzz_registrar.py -runs=100000

Every body sent to ``POST /v1/tokens`` (raw bytes, or a JSON object whose fields — nonce,
certificate, card signature, blinded token — come from the fuzzer, with a real challenge) gets
a JSON answer with a named refusal code and a 4xx status, never a 500 or an exception; a
refusal never uses up the challenge. CI runs it briefly (tests/registrar/test_fuzz.py).
"""

from __future__ import annotations

import base64
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import atheris

with atheris.instrument_imports():
    from registrar.app import create_app, hash_secret
    from registrar.refusals import REASONS

AUTH = {"Authorization": "Bearer kiosk-01:fuzz"}
_CLIENT: Any = None


def _client() -> Any:
    global _CLIENT
    if _CLIENT is None:
        from cryptography.hazmat.primitives.serialization import Encoding

        from card_reader.testpki import CertificateAuthority
        from registrar.signer import KeyFileSigner

        directory = Path(tempfile.mkdtemp(prefix="ippyo-fuzz-registrar-"))
        ca = CertificateAuthority.create()
        (directory / "ca.pem").write_bytes(ca.certificate.public_bytes(Encoding.PEM))
        (directory / "crl.der").write_bytes(ca.crl([]).public_bytes(Encoding.DER))
        KeyFileSigner.generate(directory / "key.pem", bits=2048)
        app = create_app(
            {
                "DATABASE_URL": f"sqlite:///{directory / 'registrar.db'}",
                "ELECTION_ID": "00" * 32,
                "ELECTION_DAY": "2026-12-06",
                "MUNICIPALITY": "茨城県つくば市",
                "CA_CERTS": [str(directory / "ca.pem")],
                "CRLS": [str(directory / "crl.der")],
                "KIOSKS": {"kiosk-01": hash_secret("fuzz")},
                "SIGNER": {"type": "keyfile", "path": str(directory / "key.pem")},
                "CHALLENGES_PER_MINUTE": 10**9,
            }
        )
        _CLIENT = app.test_client()
    return _CLIENT


def _check(response: Any) -> None:
    assert response.status_code < 500, (response.status_code, response.data[:300])
    body = response.get_json(silent=True)
    assert isinstance(body, dict), response.data[:300]
    code = body["error"]["code"]
    assert code in REASONS and REASONS[code][0] == response.status_code, body


def body(data: bytes) -> None:
    client = _client()
    fdp = atheris.FuzzedDataProvider(data)
    if fdp.ConsumeBool():
        _check(client.post("/v1/tokens", headers=AUTH, data=fdp.ConsumeBytes(len(data))))
        return
    nonce = client.post("/v1/challenges", headers=AUTH).get_json()["nonce"]
    fields: dict[str, Any] = {"nonce": nonce}
    for name in ("certificate", "card_signature", "blinded_token"):
        choice = fdp.ConsumeIntInRange(0, 3)
        raw = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 600))
        if choice == 0:
            fields[name] = base64.b64encode(raw).decode()
        elif choice == 1:
            fields[name] = raw.decode("latin-1")
        elif choice == 2:
            fields[name] = fdp.ConsumeInt(4)
    response = client.post("/v1/tokens", headers=AUTH, data=json.dumps(fields))
    _check(response)
    # The refusal did not use the challenge up: asking again is not challenge_reused.
    again = client.post("/v1/tokens", headers=AUTH, data=json.dumps(fields))
    assert again.get_json()["error"]["code"] != "challenge_reused", again.get_json()


if __name__ == "__main__":
    atheris.Setup(sys.argv, body)
    atheris.Fuzz()
