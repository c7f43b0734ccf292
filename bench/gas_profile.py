"""Per-opcode gas of one castBallot, traced on a geth devnet (``debug_traceTransaction``).

    .venv/bin/python -m bench.gas_profile                       # the committed artefact
    .venv/bin/python -m bench.gas_profile --artifact old.json   # e.g. an earlier BallotBox.json
    .venv/bin/python -m bench.gas_profile --artifact old.json --artifact new.json

Starts a one-node geth devnet in a temporary directory (the trace is the same on every node),
deploys each artefact, casts one real 1-of-5 and one real choose-3-of-13 ballot, traces both
and prints, per artefact and shape, the gas by opcode (each step's cost is the drop in
remaining gas to the next step, so a precompile call counts what the precompile used, not
what was forwarded to it) plus the intrinsic part (21,000 + calldata), as a Markdown table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from eth_account import Account
from web3 import Web3
from web3.types import RPCEndpoint

from bench.bench_chain import prepare
from contracts.chain import Chain, Sender
from contracts.client import ARTIFACT
from devnet.network import Devnet
from election import token as tk
from election.primitives import blind_rsa


def opcode_gas(trace: dict[str, Any]) -> Counter[str]:
    steps = trace["structLogs"]
    out: Counter[str] = Counter()
    for i, step in enumerate(steps):
        nxt = steps[i + 1] if i + 1 < len(steps) else None
        if nxt is not None and nxt["depth"] == step["depth"]:
            cost = int(step["gas"]) - int(nxt["gas"])
        else:
            cost = int(step["gasCost"])
        out[step["op"]] += cost
    return out


def _send(chain: Chain, sender: Sender, tx: dict[str, Any]) -> Any:
    raw, tx_hash = sender.sign(tx)
    chain.send_raw(raw)
    receipt = chain.wait_for_receipt(tx_hash, rebroadcast=raw)
    if receipt["status"] != 1:
        raise RuntimeError(f"transaction 0x{tx_hash.hex()} reverted")
    return receipt


def profile(
    chain: Chain, sender: Sender, art: dict[str, Any], key: blind_rsa.RSAPrivateKey
) -> dict[str, Any]:
    w3: Web3 = chain._endpoints[0][1]
    results: dict[str, Any] = {}
    for shape in ("1-of-5", "3-of-13"):
        ctx, [(token, sig, ballot)] = prepare(shape, 1, key)
        factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
        data = factory.constructor(
            ctx.election_id,
            b"\x01" * 32,
            key.public_key.modulus_bytes(),
            key.public_key.exponent_bytes(),
            False,
            [sender.address],
        ).data_in_transaction
        receipt = _send(chain, sender, {"data": data, "gas": 8_000_000})
        box = w3.eth.contract(address=receipt["contractAddress"], abi=art["abi"])
        _send(
            chain, sender, {"to": box.address, "data": box.encode_abi("open", []), "gas": 200_000}
        )
        contract = bytes.fromhex(box.address[2:])
        binding = tk.sign_binding(token, chain.chain_id, contract, hashlib.sha256(ballot).digest())
        call = box.encode_abi(
            "castBallot", [Web3.to_checksum_address(token.address), sig, ballot, binding]
        )
        receipt = _send(chain, sender, {"to": box.address, "data": call, "gas": 1_000_000})
        trace = w3.provider.make_request(
            RPCEndpoint("debug_traceTransaction"),
            [
                receipt["transactionHash"].to_0x_hex(),
                {"disableStorage": True, "disableStack": True},
            ],
        )["result"]
        ops = opcode_gas(trace)
        used = int(receipt["gasUsed"])
        results[shape] = {
            "ballot_bytes": len(ballot),
            "gas_used": used,
            "intrinsic": used - sum(ops.values()),
            "opcodes": dict(ops.most_common()),
        }
    return results


def table(label: str, results: dict[str, Any], top: int = 14) -> str:
    shapes = list(results)
    lines = [
        f"#### {label}",
        "",
        "| | " + " | ".join(f"{s} ({results[s]['ballot_bytes']} B)" for s in shapes) + " |",
    ]
    lines.append("|---|" + "---:|" * len(shapes))
    lines.append(
        "| **total gasUsed** | "
        + " | ".join(f"**{results[s]['gas_used']:,}**" for s in shapes)
        + " |"
    )
    lines.append(
        "| intrinsic (21,000 + calldata) | "
        + " | ".join(f"{results[s]['intrinsic']:,}" for s in shapes)
        + " |"
    )
    ops: Counter[str] = Counter()
    for s in shapes:
        ops.update(results[s]["opcodes"])
    named = [op for op, _ in ops.most_common(top)]
    for op in named:
        lines.append(
            f"| {op} | "
            + " | ".join(f"{results[s]['opcodes'].get(op, 0):,}" for s in shapes)
            + " |"
        )
    rest = [sum(v for k, v in results[s]["opcodes"].items() if k not in named) for s in shapes]
    lines.append("| all other opcodes | " + " | ".join(f"{r:,}" for r in rest) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--artifact", action="append", type=Path, help="BallotBox.json (repeatable)"
    )
    args = parser.parse_args()
    artifacts = args.artifact or [ARTIFACT]
    key = blind_rsa.generate_key(2048)
    with tempfile.TemporaryDirectory() as tmp:
        net = Devnet.create(Path(tmp) / "net", 1)
        try:
            net.up(timeout=90)
            chain = Chain.connect(net.state.urls)
            sender = Sender(chain, Account.from_key(net.state.funded_keys[0]))
            for path in artifacts:
                results = profile(chain, sender, json.loads(path.read_text()), key)
                print(
                    json.dumps(
                        {
                            "artifact": str(path),
                            **{
                                s: {k: v for k, v in r.items() if k != "opcodes"}
                                for s, r in results.items()
                            },
                        }
                    )
                )
                print(table(str(path), results))
                print()
        finally:
            net.destroy()


if __name__ == "__main__":
    main()
