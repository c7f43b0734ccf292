"""Fuzz targets (atheris) for the election record parser and verifier.

    .venv/bin/python fuzz/fuzz_record.py json -runs=100000
    .venv/bin/python fuzz/fuzz_record.py publication -runs=100000
    .venv/bin/python fuzz/fuzz_record.py mutate -runs=20000

- json: arbitrary bytes to ``record_from_json``: a record or ``EncodingError``, nothing else;
- publication: arbitrary bytes to ``publication_from_bytes`` (the on-chain publication,
  docs/verify.md): a record or ``EncodingError``, nothing else;
- mutate: an honest record (built once, in process) with one fuzzer-chosen field replaced by a
  fuzzer-chosen JSON value: parsing gives a record or ``EncodingError``; a parsed record either
  verifies or fails with ``InvalidRecord``; a record that verifies is the honest one or one
  that differs only where the record cannot authenticate (an exclusion's free-text message,
  an encrypted share that no complaint opens, the block range that only the chain confirms).
CI runs each briefly (tests/election/test_fuzz.py).
"""

from __future__ import annotations

import contextlib
import copy
import json
import sys
from typing import Any

import atheris

with atheris.instrument_imports():
    from election.errors import EncodingError, InvalidRecord
    from election.record import (
        publication_from_bytes,
        record_from_dict,
        record_from_json,
        verify_record,
    )


def json_target(data: bytes) -> None:
    with contextlib.suppress(EncodingError):
        record_from_json(data)


def publication_target(data: bytes) -> None:
    with contextlib.suppress(EncodingError):
        publication_from_bytes(data)


_HONEST: dict[str, Any] | None = None


def _honest() -> dict[str, Any]:
    global _HONEST
    if _HONEST is None:
        from election.primitives import blind_rsa
        from tests.election.conftest import small_manifest
        from tests.election.record_helpers import honest_builder

        record = honest_builder(small_manifest(), blind_rsa.generate_key(2048)).record()
        _HONEST = json.loads(record.to_json())
    return _HONEST


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:3]):
            out += _paths(v, (*prefix, i))
    return out


_PATHS: list[tuple[Any, ...]] = []


def _value(fdp: Any, old: Any) -> Any:
    kind = fdp.ConsumeIntInRange(0, 9)
    if kind == 0:
        return None
    if kind == 1:
        return fdp.ConsumeBool()
    if kind == 2:
        return fdp.ConsumeIntInRange(-(1 << 70), 1 << 70)
    if kind == 3:
        return fdp.ConsumeRegularFloat()
    if kind == 4:
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 80))
    if kind == 5:
        return fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 70)).hex()
    if kind == 6:
        return []
    if kind == 7:
        return {}
    if kind == 8 and isinstance(old, str) and old:
        at = fdp.ConsumeIntInRange(0, len(old) - 1)
        return old[:at] + "0123456789abcdef"[fdp.ConsumeIntInRange(0, 15)] + old[at + 1 :]
    if kind == 9 and isinstance(old, int) and not isinstance(old, bool):
        return old + fdp.ConsumeIntInRange(-2, 2)
    return old


def mutate_target(data: bytes) -> None:
    honest = _honest()
    if not _PATHS:
        _PATHS.extend(p for p in _paths(honest) if p)
    fdp = atheris.FuzzedDataProvider(data)
    raw = copy.deepcopy(honest)
    applied: list[str] = []
    for _ in range(fdp.ConsumeIntInRange(1, 3)):
        path = _PATHS[fdp.ConsumeIntInRange(0, len(_PATHS) - 1)]
        parent: Any = raw
        try:
            for key in path[:-1]:
                parent = parent[key]
            if fdp.ConsumeIntInRange(0, 7) == 0 and isinstance(parent, dict):
                del parent[path[-1]]
                applied.append(f"del {path}")
            else:
                parent[path[-1]] = _value(fdp, parent[path[-1]])
                applied.append(f"{path} = {parent[path[-1]]!r:.80}")
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation changed the shape
    try:
        record = record_from_dict(raw)
    except EncodingError:
        return
    try:
        verify_record(record)
    except InvalidRecord:
        return
    # It verifies: only what the record cannot authenticate may have changed — an exclusion's
    # free-text message, and an encrypted share that no complaint opens (its recipient alone
    # can tell; see docs/election-record.md, "What a record alone cannot prove").
    expected = copy.deepcopy(honest)
    for rec in (raw, expected):
        for entry in rec["excluded"]:
            entry["message"] = ""
        for share in rec["ceremony"]["shares"]:
            share["nonce"] = share["ciphertext"] = ""
        rec["chain"]["first_block"] = rec["chain"]["last_block"] = 0  # checked against the chain
    assert raw == expected, f"an altered record verifies: {applied}"


TARGETS = {"json": json_target, "publication": publication_target, "mutate": mutate_target}

if __name__ == "__main__":
    target = TARGETS[sys.argv.pop(1)]
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()
