"""The whole path on a real node (``geth --dev``): the ceremony through the exchange, the
contract deployed with the trustees' key, ballots cast, the tally read from the chain, two of
three trustees decrypting (each re-computing the tally from the chain first), the record
assembled and published on chain, and ``ippyo verify --rpc`` passing. A trustee refuses to
decrypt a tally that is not the chain's."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from eth_account import Account
from playwright.sync_api import sync_playwright

from contracts.chain import Chain, Sender
from contracts.client import BallotBox, predict_address
from devnet.network import geth_path
from election import token as tokens
from election.ballot import PlaintextBallot, encrypt_ballot
from election.context import ElectionContext
from election.primitives import blind_rsa
from election.tally import tally_ballots
from ippyo.trustee import tally_from_chain, trustee
from tally_server.app import create_app
from tally_server.config import TallyConfig
from tally_server.db import upgrade
from tally_server.election_setup import ElectionSetup
from tally_server.indexer import Indexer
from tally_server.testing import live_server
from tally_server.trustees import publish_tally
from tally_server.trustees.exchange import ElectionFiles, TallyInput
from tests.election.record_helpers import mint
from tests.tally_server.test_browser_observer import CHROMIUM, CHROMIUM_ARGS, DOCS
from tests.verify_rpc.kit import dev_geth, fund_from_dev_account, run_verify

from .conftest import Exchange, People, cli
from .test_trustees import _ceremony, _step


@pytest.fixture(scope="module")
def dev_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    assert geth_path().exists(), "geth is not built: scripts/setup.sh builds it"
    with dev_geth(tmp_path_factory.mktemp("geth-dev")) as url:
        yield url


def _election_on_chain(
    url: str, exchange: Exchange, people: People, key: blind_rsa.RSAPrivateKey
) -> tuple[BallotBox, Sender, ElectionContext, int]:
    """Deploy with the ceremony's joint key, cast 4 ballots (one checked first), close."""
    chain = Chain.connect([url])
    admin_acct, kiosk_acct = Account.create(), Account.create()
    fund_from_dev_account(chain, [admin_acct.address, kiosk_acct.address])
    admin, kiosk = Sender(chain, admin_acct), Sender(chain, kiosk_acct)
    state = ElectionFiles(exchange.root / people.election).load()
    assert state.joint_public_key is not None
    contract = predict_address(admin.address, 0)
    ctx = ElectionContext(
        people.manifest, 3, 2, state.joint_public_key, key.public_key, chain.chain_id, contract
    )
    box = BallotBox.deploy(
        admin,
        election_id=ctx.election_id,
        base_hash=ctx.base_hash,
        registrar_modulus=key.public_key.modulus_bytes(),
        registrar_exponent=key.public_key.exponent_bytes(),
        revote_allowed=False,
        kiosks=[kiosk.address],
    )
    first_block = chain.call(lambda w3: int(w3.eth.block_number))
    box.open(admin)
    checked_nonce = secrets.token_bytes(32)
    checked = encrypt_ballot(
        ctx, PlaintextBallot.from_choices(people.manifest, {"mayor": ["m1"]}), checked_nonce
    )
    box.challenge_ballot(kiosk, checked.to_bytes(), checked_nonce)
    for v, choice in enumerate(
        [
            {"mayor": ["m0"], "council": ["c0"]},
            {"mayor": ["m1"], "council": ["c0", "c3"]},
            {"mayor": ["m1"], "council": []},
            {"mayor": ["m2"], "council": ["c2"]},
        ]
    ):
        ballot = encrypt_ballot(
            ctx, PlaintextBallot.from_choices(people.manifest, choice), secrets.token_bytes(32)
        ).to_bytes()
        token, sig = mint(ctx, key, 1000 + v + secrets.randbelow(10**9))
        binding = tokens.sign_binding(
            token, ctx.chain_id, contract, hashlib.sha256(ballot).digest()
        )
        box.cast_ballot(kiosk, token.address, sig, ballot, binding)
    box.close(admin)
    return box, admin, ctx, first_block


def test_ceremony_decryption_record_and_verify_on_chain(
    dev_url: str,
    exchange: Exchange,
    people: People,
    registrar_key: blind_rsa.RSAPrivateKey,
    tmp_path: Path,
) -> None:
    _ceremony(exchange, people)
    box, admin, ctx, first_block = _election_on_chain(dev_url, exchange, people, registrar_key)
    chain_args = ["--rpc", dev_url, "--contract", box.address]
    result = cli("tally", "--dir", str(exchange.root), "--election", people.election, *chain_args)
    assert result.exit_code == 0, result.output
    assert "tally of 4 ballots" in result.output
    _step("decrypt", exchange, people, 1, *chain_args)
    _step("decrypt", exchange, people, 2, *chain_args)  # trustee 3 is absent
    _result_on_the_observer_pages(dev_url, exchange, people, ctx, first_block, tmp_path)
    out = tmp_path / "record.json"
    result = cli(
        "record",
        "--dir",
        str(exchange.root),
        "--election",
        people.election,
        *chain_args,
        "--from-block",
        str(first_block),
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    from election.record import ElectionRecord

    record = ElectionRecord.from_json(out.read_bytes())
    assert record.result == ((1, 2, 1), (2, 0, 1, 1))
    keystore = tmp_path / "admin.json"
    keystore.write_text(json.dumps(Account.encrypt(admin.account.key, "correct horse")))
    publish = ["record", "--dir", str(exchange.root), "--election", people.election]
    publish += [*chain_args, "--from-block", str(first_block), "--out", str(out)]
    publish += ["--publish-with", str(keystore)]
    refused = CliRunner().invoke(trustee, publish, input="wrong\n")
    assert refused.exit_code == 1 and "cannot open the admin keystore" in refused.output
    published = CliRunner().invoke(trustee, publish, env={"IPPYO_ADMIN_PASSWORD": "correct horse"})
    assert published.exit_code == 0, published.output
    assert f"transcriptHash {hashlib.sha256(out.read_bytes()).hexdigest()}" in published.output
    again = CliRunner().invoke(trustee, publish, env={"IPPYO_ADMIN_PASSWORD": "correct horse"})
    assert again.exit_code == 1 and "WrongPhase" in again.output  # published once only
    verified = run_verify(*chain_args, "--record", str(out), "--workers", "1")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "OK   record ballots (5)" in verified.stdout


def test_trustee_refuses_to_decrypt_a_tally_that_is_not_the_chains(
    dev_url: str, exchange: Exchange, people: People, registrar_key: blind_rsa.RSAPrivateKey
) -> None:
    _ceremony(exchange, people)
    box, _, ctx, _ = _election_on_chain(dev_url, exchange, people, registrar_key)
    # the officials hand over the sum of one chosen ballot only (to read one vote)
    own = tally_from_chain([dev_url], box.address, people.manifest, 3, 2, ctx.joint_public_key)
    single = tally_ballots(ctx, [own.selection.counted[0][1]])
    publish_tally(exchange.root, people.manifest.election_id, TallyInput(ctx, single))
    result = cli(
        "decrypt",
        "--server",
        exchange.url,
        "--key",
        str(people.keys[1]),
        "--state",
        str(people.states[1]),
        "--rpc",
        dev_url,
        "--contract",
        box.address,
    )
    assert result.exit_code == 1
    assert "not the sum of the valid ballots on chain: not decrypting" in result.output
    assert not list((exchange.root / people.election).glob("decryption-*.json"))


def _result_on_the_observer_pages(
    url: str,
    exchange: Exchange,
    people: People,
    ctx: ElectionContext,
    first_block: int,
    tmp_path: Path,
) -> None:
    """The tally server that indexed the chain shows the result the trustees' shares decrypt,
    with every check of the core's verifier passing."""
    state = ElectionFiles(exchange.root / people.election).load()
    setup = ElectionSetup(
        ctx,
        first_block,
        tuple(state.announcements[i] for i in sorted(state.announcements)),
        tuple(s for i in sorted(state.shares) for s in state.shares[i]),
        tuple(c for i in sorted(state.complaints) for c in state.complaints[i]),
    )
    setup_file = tmp_path / "election.json"
    setup_file.write_bytes(setup.to_json())
    database = f"sqlite:///{tmp_path / 'index.db'}"
    upgrade(database)
    config = TallyConfig(
        database_url=database,
        trustee_dir=exchange.root,
        election_file=setup_file,
        rpc_urls=(url,),
        confirmations=0,
    )
    app = create_app(config)
    try:
        sessions = app.extensions["tally"].sessions
        Indexer(setup, Chain.connect([url]), sessions, confirmations=0).run(
            poll_seconds=0.01, once=True
        )
        shown = app.test_client().get("/api/v1/result").get_json()
        assert shown["decrypted"] is True, shown
        assert [[o["count"] for o in c["options"]] for c in shown["result"]] == [
            [1, 2, 1],
            [2, 0, 1, 1],
        ]
        assert {c["status"] for c in shown["checks"]} == {"ok"}, shown["checks"]
        page = app.test_client().get("/result").get_data(as_text=True)
        assert "FAIL" not in page
        # An observer opens the result page in a real browser (headless Chromium).
        with live_server(app, config) as base, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                tab = browser.new_page(viewport={"width": 1280, "height": 900})
                tab.goto(f"{base}/result")
                text = tab.inner_text("main")
                assert "FAIL" not in text
                mayor = people.manifest.contests[0].options
                for option, count in zip(mayor, (1, 2, 1), strict=True):
                    row = tab.locator("tr", has_text=option.name_ja).first.inner_text()
                    assert row.split()[-1] == str(count), row
                shots = os.environ.get("IPPYO_SCREENSHOTS")
                target = DOCS if shots else tmp_path
                tab.screenshot(path=str(target / "observer-result-decrypted.png"), full_page=True)
            finally:
                browser.close()
    finally:
        app.extensions["tally"].engine.dispose()
