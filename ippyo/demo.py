"""`ippyo demo`: a whole election on the embedded default, end to end.

It runs on the embedded default: the key ceremony, voters' cards (RSA keys standing in for My
Number cards until the virtual card is wired in), the registrar's blind token issuance (its
signing step in process until the registrar service is wired in), the real BallotBox contract
on the embedded chain (eth-tester) receiving encrypted ballots — some checked by their voters,
one invalid, a double vote and a forged token refused by the contract — then the ballots read
back from the chain, the tally with one trustee absent, the result published on chain, and
the exported election record verified.
"""

from __future__ import annotations

import json
import random
import secrets
import time
from importlib import resources
from pathlib import Path

import click
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from eth_account import Account

from contracts.chain import Chain, Sender
from contracts.client import BallotBox, ContractRevert, predict_address
from election import token as tokens
from election.ballot import PlaintextBallot, encrypt_ballot, open_challenged
from election.context import ElectionContext
from election.keyceremony import run_ceremony
from election.manifest import Manifest, canonical_json, manifest_from_dict
from election.primitives import blind_rsa
from election.primitives.hashing import sha256
from election.record import ChallengedBallot, ElectionRecord, verify_record
from election.tally import combine, compute_decryption_share, tally_ballots
from election.validity import select_ballots

DEMO_CHAIN_ID = 31337


def load_demo_manifest() -> Manifest:
    text = resources.files("ippyo").joinpath("data/demo-manifest.json").read_text("utf-8")
    return manifest_from_dict(json.loads(text))


class Ballots:
    """Submits to the BallotBox contract and remembers refusals for the demo's story."""

    def __init__(self, box: BallotBox, kiosk: Sender) -> None:
        self.box, self.kiosk = box, kiosk
        self.refused: list[str] = []

    def cast(self, token: bytes, token_sig: bytes, binding: bytes, ballot: bytes) -> bool:
        try:
            self.box.cast_ballot(self.kiosk, token, token_sig, ballot, binding)
        except ContractRevert as exc:
            self.refused.append(f"{exc.name} — {exc.message_ja} / {exc.message_en}")
            return False
        return True


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
    chain = Chain.embedded_tester()
    admin, kiosk = Sender(chain, Account.create()), Sender(chain, Account.create())
    chain.fund([admin.address, kiosk.address], 10**21)
    nonce = chain.call(lambda w3: w3.eth.get_transaction_count(admin.address))
    contract = predict_address(admin.address, nonce)  # the base hash needs the address first
    ctx = ElectionContext(
        manifest,
        5,
        3,
        ceremony.joint_public_key,
        registrar.public_key,
        chain.chain_id,
        contract,
        revote_allowed=False,
    )
    box = BallotBox.deploy(
        admin,
        election_id=ctx.election_id,
        base_hash=ctx.base_hash,
        registrar_modulus=registrar.public_key.modulus_bytes(),
        registrar_exponent=registrar.public_key.exponent_bytes(),
        revote_allowed=False,
        kiosks=[kiosk.address],
    )
    box.open(admin)
    say(f"   BallotBox {box.address} on the embedded chain (eth-tester, chain id {chain.chain_id})")
    say(f"   base hash {ctx.base_hash.hex()[:16]}…")
    ledger = Ballots(box, kiosk)
    expected = [[0] * len(c.options) for c in manifest.contests]

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
            box.challenge_ballot(kiosk, spoiled.to_bytes(), nonce)
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
    box.close(admin)
    cast = box.cast_ballots()
    challenged = [ChallengedBallot(c.ballot, c.master_nonce) for c in box.challenged_ballots()]
    say(f"   read back from the chain: {len(cast)} ballots, {len(challenged)} checked ballots")
    selection = select_ballots(ctx, cast)
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
        tuple(cast),
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

    data = record.to_json()
    result_json = canonical_json(record.to_dict()["tally"]["result"])
    box.publish_result(admin, result_json, sha256(data))
    say(
        f"   result published on chain (phase {box.phase().name.lower()}); record hash "
        f"{sha256(data).hex()[:16]}…"
    )

    say("4. 検証 / verification of the exported election record")
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
