"""The committed ABI and bytecode are exactly what the pinned compiler makes of the source."""

from __future__ import annotations

import json

from contracts import compile as solc


def test_recompiling_gives_the_committed_artifact() -> None:
    fresh = solc.render(solc.compile_source())
    assert fresh == solc.ARTIFACT.read_text(), "run: python -m contracts.compile"
    art = json.loads(fresh)
    assert art["provenance"]["evmVersion"] == "paris"
    # No PUSH0 (0x5f) may appear as an opcode for a geth 1.13 Clique chain; checking the
    # compiler setting is the reliable test, and the devnet tests deploy the bytecode for real.
    assert art["provenance"]["compiler"] == "solc-js 0.8.28"
