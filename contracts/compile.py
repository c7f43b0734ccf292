"""Compile BallotBox.sol with the pinned solc-js and write the committed artefact.

    .venv/bin/python -m contracts.compile          # rewrite contracts/build/BallotBox.json
    .venv/bin/python -m contracts.compile --check  # exit 1 if the artefact is stale

Needs `npm ci` in contracts/ (scripts/setup.sh does it). Users of ippyo need no compiler: the
artefact (ABI + bytecode, with a provenance header) is committed, and a test recompiles and
compares so the source and the artefact cannot drift apart.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "BallotBox.sol"
ARTIFACT = HERE / "build" / "BallotBox.json"
SOLCJS = HERE / "node_modules" / "solc" / "solc.js"
EVM_VERSION = "paris"  # geth 1.13 Clique: no PUSH0 (shanghai) opcodes


class CompileError(RuntimeError):
    pass


def compile_source() -> dict[str, Any]:
    if not SOLCJS.exists():
        raise CompileError(f"solc-js is not installed: run `npm ci` in {HERE}")
    request = {
        "language": "Solidity",
        "sources": {"BallotBox.sol": {"content": SOURCE.read_text("utf-8")}},
        "settings": {
            "evmVersion": EVM_VERSION,
            "optimizer": {"enabled": True, "runs": 200},
            "viaIR": True,  # castBallot has too many calldata arguments for the legacy pipeline
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
        },
    }
    proc = subprocess.run(
        ["node", str(SOLCJS), "--standard-json"],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=False,
    )
    # solc-js may print a ">>> Cannot retry compilation with SMT…" line before the JSON.
    start = proc.stdout.find("{")
    if proc.returncode != 0 or start < 0:
        raise CompileError(f"solcjs failed: {proc.stderr or proc.stdout}")
    output = json.loads(proc.stdout[start:])
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompileError("\n".join(e["formattedMessage"] for e in errors))
    contract = output["contracts"]["BallotBox.sol"]["BallotBox"]
    version = json.loads((HERE / "node_modules" / "solc" / "package.json").read_text())["version"]
    return {
        "provenance": {
            "source": "contracts/BallotBox.sol",
            "compiler": f"solc-js {version}",
            "evmVersion": EVM_VERSION,
            "optimizer_runs": 200,
            "viaIR": True,
        },
        "abi": contract["abi"],
        "bytecode": "0x" + contract["evm"]["bytecode"]["object"],
    }


def render(artifact: dict[str, Any]) -> str:
    return json.dumps(artifact, indent=1, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    fresh = render(compile_source())
    if "--check" in argv:
        if not ARTIFACT.exists() or ARTIFACT.read_text() != fresh:
            print("contracts/build/BallotBox.json is stale: run python -m contracts.compile")
            return 1
        print("artefact matches the source")
        return 0
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(fresh)
    print(f"wrote {ARTIFACT.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
