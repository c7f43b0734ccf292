"""`ippyo demo`: a whole election on the embedded default, end to end.

Today it runs in one process on the core alone: the key ceremony, voters' cards (RSA keys
standing in for My Number cards until the virtual card is wired in), the registrar's blind
token issuance, encrypted ballots (a few challenged, a few invalid), a ledger that applies the
BallotBox contract's acceptance rules, the tally with one trustee absent, and verification of
the exported election record. Components replace the in-process stand-ins as they land.
"""

from __future__ import annotations

import json
import random
import secrets
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import click
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from election import token as tokens
from election.ballot import PlaintextBallot, encrypt_ballot, open_challenged
from election.context import ElectionContext
from election.keyceremony import run_ceremony
from election.manifest import Manifest, manifest_from_dict
from election.primitives import blind_rsa
from election.primitives.hashing import sha256
from election.record import ChallengedBallot, ElectionRecord, verify_record
from election.tally import combine, compute_decryption_share, tally_ballots
from election.validity import CastBallot, select_ballots

DEMO_CHAIN_ID = 31337


def load_demo_manifest() -> Manifest:
    text = resources.files("ippyo").joinpath("data/demo-manifest.json").read_text("utf-8")
    return manifest_from_dict(json.loads(text))


@dataclass
class Ledger:
    """The contract's acceptance rules, in process: valid token signature, valid binding,
    unspent token. (Proofs are not the contract's job: the tally checks them.)"""

    context: ElectionContext
    ballots: list[CastBallot] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    spent: set[bytes] = field(default_factory=set)

    def cast(
        self, token: bytes, token_sig: bytes, binding: bytes, ballot: bytes
    ) -> CastBallot | None:
        ctx = self.context
        cast = CastBallot(len(self.ballots), token, token_sig, binding, ballot)
        try:
            tokens.verify_token_signature(ctx.registrar_key, ctx.election_id, token, token_sig)
            tokens.verify_binding(
                token, ctx.chain_id, ctx.contract_address, cast.ballot_hash, binding
            )
        except Exception as exc:
            self.refused.append(f"InvalidTokenSignature/InvalidBinding: {exc}")
            return None
        if token in self.spent and not ctx.revote_allowed:
            self.refused.append(f"TokenAlreadyUsed: 0x{token.hex()}")
            return None
        self.spent.add(token)
        self.ballots.append(cast)
        return cast


def _card_sign(card_key: rsa.RSAPrivateKey, digest: bytes) -> bytes:
    # What the JPKI applet does: PKCS#1 v1.5 over DigestInfo(SHA-256, digest).
    return card_key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))


def run_demo(
    voters: int = 24, seed: int = 2018, echo: bool = True, out: Path | None = None
) -> ElectionRecord:
    say = click.echo if echo else (lambda *_a, **_k: None)
    rng = random.Random(seed)
    t_start = time.perf_counter()
    manifest = load_demo_manifest()
    say(f"■ {manifest.name_ja} / {manifest.name_en}  ({manifest.election_date})")

    say("1. 鍵生成式 / key ceremony: 5 trustees, any 3 can decrypt")
    trustees, announcements, shares, complaints, ceremony = run_ceremony(manifest.election_id, 5, 3)
    say(
        f"   qualified trustees {list(ceremony.qualified)}; "
        f"joint key {ceremony.joint_public_key.hex()[:16]}…"
    )

    registrar = blind_rsa.generate_key(2048)
    contract = bytes.fromhex("5fbdb2315678afecb367f032d93f642f64180aa3")
    ctx = ElectionContext(
        manifest,
        5,
        3,
        ceremony.joint_public_key,
        registrar.public_key,
        DEMO_CHAIN_ID,
        contract,
        revote_allowed=False,
    )
    say(f"   base hash {ctx.base_hash.hex()[:16]}…")
    ledger = Ledger(ctx)
    expected = [[0] * len(c.options) for c in manifest.contests]
    challenged: list[ChallengedBallot] = []

    say(f"2. 投票 / voting: {voters} voters")
    for v in range(voters):
        card = rsa.generate_private_key(65537, 2048)
        card_sig = _card_sign(card, tokens.token_request_digest(ctx.election_id))
        token, blinding = tokens.blind_token(ctx.registrar_key, ctx.election_id, card_sig)
        blind_sig = blind_rsa.blind_sign(registrar, blinding.blinded_msg)  # the registrar's part
        token_sig = tokens.finalize_token(
            ctx.registrar_key, ctx.election_id, token, blind_sig, blinding
        )
        choices = {
            "mayor": [rng.choice(["sato", "suzuki", "takahashi", "tanaka", "ito"][: 3 + v % 3])],
            "projects": rng.sample([o.id for o in manifest.contests[1].options], rng.randint(0, 3)),
        }
        plain = PlaintextBallot.from_choices(manifest, choices)
        if v % 10 == 3:  # this voter checks a ballot first (Benaloh challenge)
            nonce = secrets.token_bytes(32)
            spoiled = encrypt_ballot(ctx, plain, nonce)
            opened = open_challenged(ctx, spoiled, nonce)
            assert opened == plain
            challenged.append(ChallengedBallot(spoiled.to_bytes(), nonce))
            say(
                f"   voter {v:2}: checked a ballot ({spoiled.tracking_code[:9]}…) — "
                "it matches; votes again"
            )
        ballot = encrypt_ballot(ctx, plain, secrets.token_bytes(32))
        binding = tokens.sign_binding(token, ctx.chain_id, ctx.contract_address, ballot.ballot_hash)
        if v == 7:  # a broken kiosk: a proof is corrupted after signing the binding
            raw = bytearray(ballot.to_bytes())
            raw[36 + 66 + 5] ^= 1
            bad = bytes(raw)
            binding = tokens.sign_binding(token, ctx.chain_id, ctx.contract_address, sha256(bad))
            ledger.cast(token.address, token_sig, binding, bad)
            say(
                f"   voter {v:2}: ballot with a corrupted proof reaches the chain "
                "(the tally will exclude it)"
            )
            continue
        ledger.cast(token.address, token_sig, binding, ballot.to_bytes())
        for ci, row in enumerate(plain.selections):
            for oi, m in enumerate(row):
                expected[ci][oi] += m
        if v == 11:  # the same token again: the contract refuses
            again = encrypt_ballot(ctx, plain, secrets.token_bytes(32))
            b2 = tokens.sign_binding(token, ctx.chain_id, ctx.contract_address, again.ballot_hash)
            ledger.cast(token.address, token_sig, b2, again.to_bytes())
            say(f"   voter {v:2}: tried to vote twice — refused: {ledger.refused[-1]}")
    # A token the registrar never signed: refused at the door.
    forged = tokens.derive_token(ctx.election_id, secrets.token_bytes(256))
    fake_ballot = encrypt_ballot(
        ctx, PlaintextBallot.from_choices(manifest, {"mayor": ["ito"]}), secrets.token_bytes(32)
    )
    ledger.cast(
        forged.address,
        secrets.token_bytes(256),
        tokens.sign_binding(forged, ctx.chain_id, ctx.contract_address, fake_ballot.ballot_hash),
        fake_ballot.to_bytes(),
    )
    say(f"   forged token — refused: {ledger.refused[-1][:70]}…")

    say("3. 開票 / tally: trustee 3 is absent; trustees 1, 2, 4, 5 take part")
    selection = select_ballots(ctx, ledger.ballots)
    for e in selection.excluded:
        say(f"   excluded ballot #{e.seq}: {e.code} — {e.message}")
    tally = tally_ballots(ctx, [b for _, b in selection.counted])
    present = [t for t in trustees if t.index != 3]
    dshares = tuple(
        compute_decryption_share(ctx, t.index, t.secret_share, tally, secrets.token_bytes(32))
        for t in present
    )
    result = combine(ctx, tally, dshares)
    if [list(r) for r in result] != expected:
        raise click.ClickException("the decrypted result differs from the voters' choices")

    record = ElectionRecord(
        manifest,
        5,
        3,
        False,
        ctx.chain_id,
        ctx.contract_address,
        ctx.registrar_key,
        tuple(announcements),
        tuple(shares),
        tuple(complaints),
        ceremony.joint_public_key,
        tuple(ledger.ballots),
        tuple(challenged),
        selection.excluded,
        tally,
        dshares,
        result,
    )
    for contest, row in zip(manifest.contests, result, strict=True):
        say(f"   {contest.title_ja} / {contest.title_en}")
        for option, n in sorted(zip(contest.options, row, strict=True), key=lambda x: -x[1]):
            say(f"     {n:3}  {option.name_ja} / {option.name_en}")

    say("4. 検証 / verification of the exported election record")
    data = record.to_json()
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        say(f"   written to {out} ({len(data)} bytes)")
    report = verify_record(ElectionRecord.from_json(data))
    for line in report.summary().splitlines():
        say("   " + line)
    say(f"完了 / done in {time.perf_counter() - t_start:.1f} s — the record verifies.")
    return record


@click.command()
@click.option("--voters", default=24, show_default=True, help="How many voters take part.")
@click.option("--seed", default=2018, show_default=True, help="Seed for the voters' choices.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("var/demo/election-record.json"),
    show_default=True,
    help="Where to write the election record.",
)
def demo(voters: int, seed: int, out: Path) -> None:
    """Run a whole demo election in process and verify its record."""
    if voters < 12:
        raise click.BadParameter("the demo needs at least 12 voters", param_hint="--voters")
    run_demo(voters, seed, echo=True, out=out)
