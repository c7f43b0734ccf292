"""Fuzz targets (atheris) for the ballot wire format (``EncryptedBallot.from_bytes``) and the
proof checks behind it.

    .venv/bin/python fuzz/fuzz_ballot.py decode -runs=100000
    .venv/bin/python fuzz/fuzz_ballot.py mutate -runs=100000

- decode: any bytes (raw, or framed with the right header and length so the fuzzer reaches the
  points and proofs) → decode then verify may only raise ``InvalidBallot``;
- mutate: an honest ballot with a few bytes changed must never decode *and* verify (any
  change to a ciphertext or proof breaks a proof), and must only raise ``InvalidBallot``.
CI runs each briefly (tests/election/test_fuzz_ballot.py).
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from election.ballot import (
        MAGIC,
        VERSION,
        EncryptedBallot,
        PlaintextBallot,
        encrypt_ballot_with_nonce,
        verify_ballot,
    )
    from election.context import ElectionContext
    from election.errors import InvalidBallot
    from election.keyceremony import run_ceremony
    from election.manifest import manifest_from_dict
    from election.primitives import blind_rsa

MANIFEST = manifest_from_dict(
    {
        "id": "fuzz",
        "name": {"ja": "ファズ", "en": "Fuzz"},
        "date": "2026-12-06",
        "municipality": {"ja": "つくば市", "en": "Tsukuba"},
        "contests": [
            {
                "id": "mayor",
                "title": {"ja": "市長", "en": "Mayor"},
                "min": 1,
                "max": 1,
                "options": [
                    {"id": f"m{i}", "name": {"ja": f"{i}", "en": f"{i}"}} for i in range(3)
                ],
            },
            {
                "id": "council",
                "title": {"ja": "議会", "en": "Council"},
                "min": 0,
                "max": 2,
                "options": [
                    {"id": f"c{i}", "name": {"ja": f"{i}", "en": f"{i}"}} for i in range(3)
                ],
            },
        ],
    }
)
_, _, _, _, _RESULT = run_ceremony(MANIFEST.election_id, 3, 2)
CTX = ElectionContext(
    MANIFEST,
    3,
    2,
    _RESULT.joint_public_key,
    blind_rsa.generate_key(2048).public_key,
    1,
    b"\x01" * 20,
)
HONEST = encrypt_ballot_with_nonce(
    CTX,
    PlaintextBallot.from_choices(MANIFEST, {"mayor": ["m1"], "council": ["c0", "c2"]}),
    b"\x07" * 32,
).to_bytes()
SIZE = EncryptedBallot.size(MANIFEST)


def _decode_and_verify(data: bytes) -> bool:
    """True if the bytes are a valid ballot; only InvalidBallot may escape as a refusal."""
    try:
        verify_ballot(CTX, EncryptedBallot.from_bytes(data, MANIFEST))
    except InvalidBallot:
        return False
    return True


def decode(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    if fdp.ConsumeBool():
        body = fdp.ConsumeBytes(SIZE)
        data = MAGIC + bytes([VERSION]) + MANIFEST.election_id + body
        data = data[:SIZE].ljust(SIZE, b"\x00")
    else:
        data = fdp.ConsumeBytes(fdp.remaining_bytes())
    _decode_and_verify(data)


def mutate(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    ballot = bytearray(HONEST)
    for _ in range(fdp.ConsumeIntInRange(1, 4)):
        pos = fdp.ConsumeIntInRange(0, len(ballot) - 1)
        ballot[pos] ^= fdp.ConsumeIntInRange(1, 255)
    if bytes(ballot) != HONEST and _decode_and_verify(bytes(ballot)):
        raise AssertionError(f"an altered ballot verifies: {bytes(ballot).hex()}")


TARGETS = {"decode": decode, "mutate": mutate}


def main() -> None:
    assert _decode_and_verify(HONEST)
    target = TARGETS[sys.argv.pop(1)]
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
