"""`ippyo demo`: a whole election on the embedded default, end to end.

The key ceremony; a test JPKI CA and TEST cards; the registrar service on a loopback port
(path validation, CRL, rules, ledger, key-file signer) refusing a visitor from another city and
one under age; voter 0's card served by the virtual card through the real PC/SC stack (pcscd +
vpcd; one mistyped PIN shows the tries left), the others' card signatures made in process with
their TEST card keys; a kiosk restart answered by an idempotent re-issue; the BallotBox contract
on the embedded chain (eth-tester) receiving encrypted ballots — some checked by their voters,
one invalid, a double vote and a forged token refused by the contract; the ballots read back
from the chain, the tally with one trustee absent, the result published on chain, and the
exported election record verified.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import secrets
import time
from contextlib import ExitStack
from importlib import resources
from pathlib import Path

import click
from eth_account import Account
from web3 import Web3

from card_reader.errors import WrongPin
from card_reader.testpki import Resident
from contracts.chain import Chain, Sender
from contracts.client import BallotBox, ContractRevert, predict_address
from election import token as tokens
from election.ballot import PlaintextBallot, encrypt_ballot, open_challenged
from election.context import ElectionContext
from election.keyceremony import run_ceremony
from election.manifest import Manifest, manifest_from_dict
from election.primitives.hashing import sha256
from election.record import ChainAnchor, ChallengedBallot, ElectionRecord, verify_record
from election.tally import combine, compute_decryption_share, tally_ballots
from election.validity import select_ballots
from ippyo.demo_parts import registrar_service, virtual_card
from kiosk.core.tokenflow import SigningCard, obtain_token, pinned_key_of
from kiosk.testing import ImageCard
from registrar.client import RegistrarRefused

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


def run_demo(
    voters: int = 24,
    seed: int = 2018,
    echo: bool = True,
    out: Path | None = None,
    *,
    use_card: bool = True,
    workdir: Path | str = "var/demo",
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

    services = ExitStack()
    registrar = services.enter_context(
        registrar_service(Path(workdir) / "registrar", manifest.election_id, manifest.election_date)
    )
    say(f"   registrar service on {registrar.client.base_url} (test JPKI CA, CRL, key file)")
    chain = Chain.embedded_tester()
    admin, kiosk = Sender(chain, Account.create()), Sender(chain, Account.create())
    chain.fund([admin.address, kiosk.address], 10**21)
    admin_address = Web3.to_checksum_address(admin.address)
    nonce = chain.call(lambda w3: w3.eth.get_transaction_count(admin_address))
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
    first_block = chain.call(lambda w3: int(w3.eth.block_number))  # the deployment's block
    box.open(admin)
    pinned = pinned_key_of(*box.registrar_key())  # the kiosk checks the registrar against it

    def issue(card: SigningCard) -> tuple[tokens.TokenKey, bytes]:
        """The kiosk's token flow, the one the kiosk itself runs."""
        issued = obtain_token(card, registrar.client, ctx.election_id, pinned)
        return issued.key, issued.signature

    say(f"   BallotBox {box.address} on the embedded chain (eth-tester, chain id {chain.chain_id})")
    say(f"   base hash {ctx.base_hash.hex()[:16]}…")
    ledger = Ballots(box, kiosk)
    expected = [[0] * len(c.options) for c in manifest.contests]

    say(f"2. 投票 / voting: {voters} voters")
    refusals = [
        (
            Resident("市外 太郎", "male", dt.date(1980, 5, 5), "東京都千代田区千代田1-1"),
            "lives elsewhere",
        ),
        (Resident("若葉 さくら", "female", dt.date(2009, 3, 1), "茨城県つくば市竹園2-1"), "is 17"),
    ]
    for resident, why in refusals:
        try:
            issue(ImageCard(registrar.card(resident)))
        except RegistrarRefused as exc:
            say(f"   a visitor who {why}: refused — {exc.code}: {exc.message_ja}")
    for v in range(voters):
        resident = Resident(
            f"投票者 {v:02d}",
            ("male", "female")[v % 2],
            dt.date(1950 + v % 50, 1 + v % 12, 1 + v % 28),
            f"茨城県つくば市研究学園{v + 1}-1",
        )
        image = registrar.card(resident)
        if v == 0 and use_card:
            with virtual_card(image) as card:
                try:
                    card.verify_signature_pin("WRONG1")
                except WrongPin as exc:
                    say(
                        f"   voter  0: mistyped the PIN on the virtual card — {exc.message_ja}"
                        f"（あと{exc.tries_left}回 / {exc.tries_left} tries left）"
                    )
                card.verify_signature_pin("ABC123")
                token, token_sig = issue(card)
            say("   voter  0: My Number card read through pcscd + vpcd; token issued")
        else:
            token, token_sig = issue(ImageCard(image))
        if v == 5:  # the kiosk crashed after issuance: the voter is served again, same token
            again, again_sig = issue(ImageCard(image))
            assert (again, again_sig) == (token, token_sig)
            say("   voter  5: kiosk restarted mid-vote — the registrar re-issued the same token")
        choices = {
            "mayor": [rng.choice(["sato", "suzuki", "takahashi", "tanaka", "ito"][: 3 + v % 3])],
            "projects": rng.sample([o.id for o in manifest.contests[1].options], rng.randint(0, 3)),
        }
        plain = PlaintextBallot.from_choices(manifest, choices)
        if v % 10 == 3:  # this voter checks a ballot first (Benaloh challenge)
            master = secrets.token_bytes(32)
            spoiled = encrypt_ballot(ctx, plain, master)
            opened = open_challenged(ctx, spoiled, master)
            assert opened == plain
            box.challenge_ballot(kiosk, spoiled.to_bytes(), master, token=token.address)
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
            second = encrypt_ballot(ctx, plain, secrets.token_bytes(32))
            b2 = tokens.sign_binding(token, ctx.chain_id, ctx.contract_address, second.ballot_hash)
            ledger.cast(token.address, token_sig, b2, second.to_bytes())
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
    last_block = chain.call(lambda w3: int(w3.eth.block_number))
    anchor = ChainAnchor(
        box.ballot_count(),
        box.challenged_count(),
        first_block,
        last_block,
    )
    cast = box.cast_ballots(first_block, last_block)
    challenged = [
        ChallengedBallot(c.seq, c.ballot, c.master_nonce)
        for c in box.challenged_ballots(first_block, last_block)
    ]
    say(
        f"   read back from the chain (blocks {first_block}–{last_block}): {len(cast)} ballots "
        f"of {anchor.ballot_count}, {len(challenged)} checked ballots of {anchor.checked_count}"
    )
    selection = select_ballots(ctx, cast, {c.ballot_hash for c in challenged})
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
        anchor,
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

    from election.record import publication_bytes

    data = record.to_json()
    # The record without its ballots (the chain holds those), hashed into resultHash; the whole
    # record's hash as the transcript hash (docs/verify.md, "The publication on chain").
    box.publish_result(admin, publication_bytes(record), sha256(data))
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
    services.close()
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
@click.option(
    "--card/--no-card",
    "use_card",
    default=True,
    show_default=True,
    help="Serve voter 0 through the virtual card in the real PC/SC stack (pcscd + vpcd).",
)
def demo(voters: int, seed: int, out: Path, use_card: bool) -> None:
    """Run a whole demo election in process and verify its record."""
    if voters < 12:
        raise click.BadParameter("the demo needs at least 12 voters", param_hint="--voters")
    run_demo(voters, seed, echo=True, out=out, use_card=use_card, workdir=out.parent)
