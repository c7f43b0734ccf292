"""Benchmark of the whole demo election: wall time per stage and per voter's visit.

    .venv/bin/python -m bench.bench_demo [--voters 50] [--seed 2018] [--chains embedded,devnet]

Plays the demo's scenario (:mod:`ippyo.scenario`) through the real services
(:class:`ippyo.demo_run.DemoRun`) once per chain, in a temporary workdir removed at the end,
and prints one JSON line per run and a table: the seconds of each stage, the whole run, and the
p50 / p95 of a visit at the kiosk for voters who vote normally. Never fails on a figure; a run
whose result does not verify or differs from the voters' choices is reported as such.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from ippyo.demo_run import DemoRun
from ippyo.scenario import Behaviour, build_scenario, expected_result


def _quantile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


def run_once(chain: str, voters: int, seed: int) -> dict[str, Any]:
    scenario = build_scenario(voters, seed)
    with tempfile.TemporaryDirectory(prefix="ippyo-bench-demo-") as folder:
        started = time.perf_counter()
        with DemoRun(scenario, Path(folder) / "demo", devnet=chain == "devnet") as run:
            outcome = run.play()
        wall = time.perf_counter() - started
    normal = [o.seconds for o in outcome.voters if o.voter.behaviour is Behaviour.NORMAL]
    return {
        "chain": chain,
        "voters": voters,
        "wall_s": round(wall, 2),
        "stages_s": {k: round(v, 2) for k, v in outcome.stage_seconds.items()},
        "visit_p50_s": round(_quantile(normal, 0.50), 3),
        "visit_p95_s": round(_quantile(normal, 0.95), 3),
        "verified": outcome.verified,
        "matches_choices": outcome.result == expected_result(scenario),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--voters", type=int, default=50)
    parser.add_argument("--seed", type=int, default=2018)
    parser.add_argument("--chains", default="embedded,devnet")
    args = parser.parse_args()
    rows = []
    for chain in args.chains.split(","):
        row = run_once(chain, args.voters, args.seed)
        print(json.dumps(row), flush=True)
        rows.append(row)
    stages = list(rows[0]["stages_s"]) if rows else []
    print(f"\n{'stage':<16}" + "".join(f"{r['chain']:>12}" for r in rows))
    for stage in stages:
        print(f"{stage:<16}" + "".join(f"{r['stages_s'][stage]:>12.1f}" for r in rows))
    print(f"{'wall':<16}" + "".join(f"{r['wall_s']:>12.1f}" for r in rows))
    print(f"{'visit p50':<16}" + "".join(f"{r['visit_p50_s']:>12.2f}" for r in rows))
    print(f"{'visit p95':<16}" + "".join(f"{r['visit_p95_s']:>12.2f}" for r in rows))
    print(f"{'verified':<16}" + "".join(f"{r['verified']!s:>12}" for r in rows))
    print(f"{'as chosen':<16}" + "".join(f"{r['matches_choices']!s:>12}" for r in rows))


if __name__ == "__main__":
    main()
