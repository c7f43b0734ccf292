"""Benchmark of the pure core: per-ballot encrypt+prove and verify, and verify+tally throughput.

Prints JSON lines (one per figure) and a readable table. Not a test: it never fails.

    .venv/bin/python bench/bench_election.py            # 10k ballots per contest shape
    .venv/bin/python bench/bench_election.py --ballots 2000

Contest shapes: single choice 1-of-5, and choose-up-to-3-of-13. The floor reference is
measured in the same run: the cost of one variable-point scalar multiplication in
libsecp256k1 times the number of multiplications a ballot's verification needs.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import statistics
import time
from typing import Any

from election.ballot import PlaintextBallot, encrypt_ballot, verify_ballot
from election.context import ElectionContext
from election.keyceremony import run_ceremony
from election.manifest import manifest_from_dict
from election.primitives import blind_rsa
from election.primitives.elgamal import DiscreteLog
from election.primitives.group import Point
from election.record import ChainAnchor, ElectionRecord, record_from_json, verify_record
from election.tally import combine, compute_decryption_share, tally_ballots
from election.token import blind_token, finalize_token, sign_binding
from election.validity import CastBallot, select_ballots

SHAPES = {"1-of-5": (5, 1, 1), "3-of-13": (13, 0, 3)}


def manifest_for(shape: str) -> Any:
    n, lo, hi = SHAPES[shape]
    return manifest_from_dict(
        {
            "id": f"bench-{shape}",
            "name": {"ja": "ベンチ", "en": "Bench"},
            "date": "2026-12-06",
            "municipality": {"ja": "つくば市", "en": "Tsukuba"},
            "contests": [
                {
                    "id": "c",
                    "title": {"ja": "選挙", "en": "Contest"},
                    "min": lo,
                    "max": hi,
                    "options": [
                        {"id": f"o{i}", "name": {"ja": f"候補{i}", "en": f"O{i}"}} for i in range(n)
                    ],
                }
            ],
        }
    )


_STATE: dict[str, Any] = {}


def _setup(shape: str) -> tuple[ElectionContext, list[Any], blind_rsa.RSAPrivateKey]:
    m = manifest_for(shape)
    trustees, ann, dealt, complaints, result = run_ceremony(m.election_id, 5, 3)
    _STATE["transcript"] = (tuple(ann), tuple(dealt), tuple(complaints))
    key = blind_rsa.generate_key(2048)
    ctx = ElectionContext(m, 5, 3, result.joint_public_key, key.public_key, 1337, b"\x42" * 20)
    return ctx, trustees, key


def _choices(shape: str, i: int) -> dict[str, list[str]]:
    n, lo, hi = SHAPES[shape]
    count = lo + i % (hi - lo + 1)
    return {"c": [f"o{(i + j) % n}" for j in range(count)]}


def _make_cast(args: tuple[int, int]) -> list[CastBallot]:
    start, stop = args
    ctx, key, shape = _STATE["ctx"], _STATE["key"], _STATE["shape"]
    out = []
    for i in range(start, stop):
        token, blinding = blind_token(ctx.registrar_key, ctx.election_id, secrets.token_bytes(256))
        sig = finalize_token(
            ctx.registrar_key,
            ctx.election_id,
            token,
            blind_rsa.blind_sign(key, blinding.blinded_msg),
            blinding,
        )
        plain = PlaintextBallot.from_choices(ctx.manifest, _choices(shape, i))
        ballot = encrypt_ballot(ctx, plain, secrets.token_bytes(32))
        binding = sign_binding(token, ctx.chain_id, ctx.contract_address, ballot.ballot_hash)
        out.append(CastBallot(i, token.address, sig, binding, ballot.to_bytes()))
    return out


def _init(ctx: ElectionContext, key: blind_rsa.RSAPrivateKey, shape: str) -> None:
    _STATE.update(ctx=ctx, key=key, shape=shape)


def _verify_chunk(cast: list[CastBallot]) -> int:
    return len(select_ballots(_STATE["ctx"], cast).counted)


def emit(rows: list[dict[str, Any]], **row: Any) -> None:
    rows.append(row)
    print(json.dumps(row, ensure_ascii=False), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ballots", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=200, help="ballots timed one by one")
    parser.add_argument(
        "--record-ballots", type=int, default=2000, help="ballots in the timed election record"
    )
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    cores = os.cpu_count() or 1

    # Floor reference, same run: one variable-point scalar multiplication.
    p, k = Point.base_times(12345), secrets.randbelow(2**255)
    t0 = time.perf_counter()
    for _ in range(5000):
        p * k
    mult_us = (time.perf_counter() - t0) / 5000 * 1e6
    emit(rows, figure="scalar_mult_us", value=round(mult_us, 1))

    for shape in SHAPES:
        ctx, trustees, key = _setup(shape)
        n, lo, hi = SHAPES[shape]
        plain = [
            PlaintextBallot.from_choices(ctx.manifest, _choices(shape, i))
            for i in range(args.samples)
        ]
        enc_times, ver_times, ballots = [], [], []
        for pb in plain:
            t0 = time.perf_counter()
            b = encrypt_ballot(ctx, pb, secrets.token_bytes(32))
            enc_times.append(time.perf_counter() - t0)
            ballots.append(b)
        for b in ballots:
            t0 = time.perf_counter()
            verify_ballot(ctx, b)
            ver_times.append(time.perf_counter() - t0)
        # Variable-point multiplications per verification: 3 per range-proof branch
        # (c·α, v·K, c·(β−jG)) plus one base-point multiplication (cheaper, not counted).
        mults = 3 * (2 * n + (hi - lo + 1))
        emit(
            rows,
            figure="encrypt_prove_ms",
            shape=shape,
            median=round(statistics.median(enc_times) * 1e3, 2),
        )
        emit(
            rows,
            figure="verify_ms",
            shape=shape,
            median=round(statistics.median(ver_times) * 1e3, 2),
            floor_ms=round(mults * mult_us / 1e3, 2),
            variable_mults=mults,
            bytes=len(ballots[0].to_bytes()),
        )

        # Throughput: full validity (token signature, binding, proofs) + homomorphic sum + decrypt.
        ctxs = (ctx, key, shape)
        chunks = [(i, min(i + 250, args.ballots)) for i in range(0, args.ballots, 250)]
        t0 = time.perf_counter()
        with multiprocessing.Pool(cores, initializer=_init, initargs=ctxs) as pool:
            cast = [c for part in pool.map(_make_cast, chunks) for c in part]
        make_s = time.perf_counter() - t0
        _init(*ctxs)
        t0 = time.perf_counter()
        selection = select_ballots(ctx, cast)
        verify_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        tally = tally_ballots(ctx, [b for _, b in selection.counted])
        shares = [
            compute_decryption_share(ctx, t.index, t.secret_share, tally, secrets.token_bytes(32))
            for t in trustees[:3]
        ]
        combine(ctx, tally, shares, DiscreteLog(tally.ballot_count))
        tally_s = time.perf_counter() - t0
        per_core = len(cast) / (verify_s + tally_s)
        with multiprocessing.Pool(cores, initializer=_init, initargs=ctxs) as pool:
            t0 = time.perf_counter()
            counted = sum(
                pool.map(_verify_chunk, [cast[i : i + 250] for i in range(0, len(cast), 250)])
            )
            parallel_s = time.perf_counter() - t0
        assert counted == len(cast)
        emit(
            rows,
            figure="verify_tally",
            shape=shape,
            ballots=len(cast),
            generate_s=round(make_s, 1),
            verify_s=round(verify_s, 2),
            tally_decrypt_s=round(tally_s, 2),
            per_core_ballots_per_s=round(per_core, 1),
            parallel_ballots_per_s=round(len(cast) / parallel_s, 1),
            cores=cores,
            projection_200k_min_per_core=round(200_000 / per_core / 60, 1),
            projection_200k_min_all_cores=round(200_000 / (len(cast) / parallel_s) / 60, 1),
        )

        # The whole record: export, strict parse and every named check, on a prefix of the
        # ballots (verify_record re-runs the validity rules, so this costs verify_s again).
        subset = cast[: args.record_ballots]
        ann, dealt, complaints = _STATE["transcript"]
        sel = select_ballots(ctx, subset)
        sub_tally = tally_ballots(ctx, [b for _, b in sel.counted])
        sub_shares = tuple(
            compute_decryption_share(
                ctx, t.index, t.secret_share, sub_tally, secrets.token_bytes(32)
            )
            for t in trustees[:3]
        )
        record = ElectionRecord(
            ctx.manifest,
            5,
            3,
            False,
            ctx.chain_id,
            ctx.contract_address,
            ctx.registrar_key,
            ann,
            dealt,
            complaints,
            ctx.joint_public_key,
            tuple(subset),
            ChainAnchor(len(subset), 0, 1, 2),
            (),
            sel.excluded,
            sub_tally,
            sub_shares,
            combine(ctx, sub_tally, sub_shares),
        )
        data = record.to_json()
        t0 = time.perf_counter()
        parsed = record_from_json(data)
        parse_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        verify_record(parsed)
        record_s = time.perf_counter() - t0
        emit(
            rows,
            figure="verify_record",
            shape=shape,
            ballots=len(subset),
            record_bytes=len(data),
            parse_s=round(parse_s, 2),
            verify_s=round(record_s, 2),
            per_ballot_ms=round((parse_s + record_s) / len(subset) * 1e3, 2),
        )

    print("\nfigure                       shape     value")
    for r in rows:
        rest = {k: v for k, v in r.items() if k not in ("figure", "shape")}
        print(f"{r['figure']:<28} {r.get('shape', ''):<9} {rest}")


if __name__ == "__main__":
    main()
