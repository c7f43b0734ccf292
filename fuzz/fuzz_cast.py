"""Fuzz targets (atheris) for a cast ballot: the wire format and every validity rule.

    .venv/bin/python fuzz/fuzz_cast.py decode -runs=100000
    .venv/bin/python fuzz/fuzz_cast.py mutate -runs=20000

- decode: arbitrary bytes to ``EncryptedBallot.from_bytes``: a ballot that re-encodes to the
  same bytes, or ``InvalidBallot``; nothing else;
- mutate: an honest ballot with fuzzer-chosen bytes changed: decoding and ``check_cast_ballot``
  (every validity rule) raise only ``InvalidBallot``, and an altered ballot is never accepted
  (its binding signature covers the original hash).
CI runs each briefly (tests/election/test_fuzz.py).
"""

from __future__ import annotations

import sys
from typing import Any

import atheris

with atheris.instrument_imports():
    from election.ballot import EncryptedBallot
    from election.errors import InvalidBallot
    from election.validity import CastBallot, check_cast_ballot

_STATE: dict[str, Any] = {}


def _setup() -> dict[str, Any]:
    if not _STATE:
        from election.primitives import blind_rsa
        from tests.election.conftest import small_manifest
        from tests.election.record_helpers import Builder

        b = Builder(small_manifest(), blind_rsa.generate_key(2048))
        cast = b.vote(0, {"mayor": ["m1"], "council": ["c0", "c3"]})
        _STATE.update(builder=b, cast=cast, manifest=b.manifest, ctx=b.ctx)
    return _STATE


def decode(data: bytes) -> None:
    manifest = _setup()["manifest"]
    try:
        ballot = EncryptedBallot.from_bytes(data, manifest)
    except InvalidBallot:
        return
    assert ballot.to_bytes() == data, "a decoded ballot does not re-encode to its bytes"


def mutate(data: bytes) -> None:
    state = _setup()
    cast: CastBallot = state["cast"]
    fdp = atheris.FuzzedDataProvider(data)
    raw = bytearray(cast.ballot)
    for _ in range(fdp.ConsumeIntInRange(1, 4)):
        op = fdp.ConsumeIntInRange(0, 2)
        at = fdp.ConsumeIntInRange(0, len(raw) - 1)
        if op == 0:
            raw[at] = fdp.ConsumeIntInRange(0, 255)
        elif op == 1:
            del raw[at : at + fdp.ConsumeIntInRange(1, 40)]
        else:
            raw[at:at] = fdp.ConsumeBytes(fdp.ConsumeIntInRange(1, 40))
    altered = bytes(raw)
    try:
        ballot = EncryptedBallot.from_bytes(altered, state["manifest"])
        assert ballot.to_bytes() == altered
    except InvalidBallot:
        pass
    candidate = CastBallot(
        cast.seq, cast.token, cast.token_signature, cast.binding_signature, altered
    )
    try:
        check_cast_ballot(state["ctx"], candidate)
    except InvalidBallot:
        return
    assert altered == cast.ballot, "an altered ballot passes every validity rule"


TARGETS = {"decode": decode, "mutate": mutate}

if __name__ == "__main__":
    target = TARGETS[sys.argv.pop(1)]
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()
