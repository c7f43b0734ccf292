"""Fuzz targets (atheris) for what the tally server parses from outside.

    .venv/bin/python fuzz/fuzz_tally.py setup -runs=100000
    .venv/bin/python fuzz/fuzz_tally.py api -runs=20000

- setup: arbitrary bytes to ``setup_from_json``: a setup or ``EncodingError``, nothing else;
- api: fuzzer-chosen kiosk health bodies, tracking codes and query strings sent to the app
  (an indexed election on the embedded chain, built once): every answer is below 500 and
  every refusal a JSON error with a known code.
CI runs each briefly (tests/tally_server/test_fuzz.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import atheris

with atheris.instrument_imports():
    from election.errors import EncodingError
    from tally_server.election_setup import setup_from_json

SECRET = "fuzz-kiosk-secret"
_CLIENT: Any = None


def setup_target(data: bytes) -> None:
    with contextlib.suppress(EncodingError):
        setup_from_json(data)


def _client() -> Any:
    global _CLIENT
    if _CLIENT is None:
        from contracts.chain import Chain
        from election.primitives import blind_rsa
        from tally_server.app import create_app
        from tally_server.config import TallyConfig
        from tally_server.db import make_engine, sessions, upgrade
        from tally_server.indexer import Indexer
        from tally_server.testing import ElectionKit

        tmp = Path(tempfile.mkdtemp(prefix="ippyo-fuzz-tally-"))
        kit = ElectionKit(Chain.embedded_tester(), blind_rsa.generate_key(2048))
        kit.cast()
        kit.challenge()
        url = f"sqlite:///{tmp / 'tally.db'}"
        upgrade(url)
        engine = make_engine(url)
        Indexer(kit.setup, kit.chain, sessions(engine), confirmations=0).run(
            poll_seconds=0.01, once=True
        )
        config = TallyConfig(
            database_url=url,
            election_file=kit.write_setup(tmp / "setup.json"),
            kiosk_secrets={"kiosk-01": hashlib.sha256(SECRET.encode()).hexdigest()},
        )
        _CLIENT = create_app(config).test_client()
    return _CLIENT


def _check(response: Any) -> None:
    assert response.status_code < 500, (response.status_code, response.data[:500])
    if response.status_code >= 400 and response.is_json:
        from tally_server.errors import REASONS

        body = response.get_json()
        assert body["error"] in REASONS and body["message_ja"] and body["message_en"], body


def api_target(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    client = _client()
    what = fdp.ConsumeIntInRange(0, 3)
    text = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 300))
    if what == 0:
        body: Any = text
        with contextlib.suppress(ValueError):
            body = json.loads(text)
        fields = ["reader", "outbox_depth", "wrong_pin", "refused", "ballots_cast"]
        if isinstance(body, dict) or fdp.ConsumeBool():
            body = {name: fdp.ConsumeInt(5) for name in fields} | (
                body if isinstance(body, dict) else {}
            )
        response = client.post(
            "/api/v1/kiosks/kiosk-01/health",
            data=json.dumps(body) if not isinstance(body, str) else body,
            headers={"Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"},
        )
    elif what == 1:
        response = client.get("/api/v1/ballots/" + quote(text, safe=""))
    elif what == 2:
        response = client.get("/checked/" + quote(text, safe=""), headers={"Accept": "text/html"})
    else:
        response = client.get("/api/v1/ballots?" + quote(text, safe="=&"))
    _check(response)


if __name__ == "__main__":
    targets = {"setup": setup_target, "api": api_target}
    name = sys.argv.pop(1) if len(sys.argv) > 1 and sys.argv[1] in targets else "setup"
    atheris.Setup(sys.argv, targets[name])
    atheris.Fuzz()
