"""The officials' dashboard in headless Chromium (Playwright driving Debian's chromium) against
the tally server under cheroot on 127.0.0.1, with the indexer following an embedded chain:
an official logs in, opens the election, watches the turnout change as ballots arrive, and
closes it; login, CSRF and the login rate limit are enforced in the browser too.

With ``IPPYO_SCREENSHOTS=1`` (as for every screenshot test) the pictures of every page go to
``docs/tally/``, else to the test's temporary directory.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from eth_account import Account
from playwright.sync_api import Browser, Page, expect, sync_playwright

from contracts.chain import Chain
from contracts.client import BallotBox, Phase
from election.primitives import blind_rsa
from tally_server.db import make_engine, sessions
from tally_server.election_setup import load_setup
from tally_server.testing import TesterRpcServer
from tests.tally_server.conftest import make_indexer
from tests.tally_server.dashboard_helpers import (
    KEYSTORE_PASSWORD,
    OFFICIALS,
    Election,
    election_config,
    fund,
    live_server,
    make_plan,
    report_health,
    write_keystore,
)

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is needed")
VIEWPORT = {"width": 1280, "height": 900}


@pytest.fixture
def election(
    rpc: TesterRpcServer, registrar_key: blind_rsa.RSAPrivateKey, tmp_path: Path, sqlite_url: str
) -> Election:
    return election_config(tmp_path, rpc.url, registrar_key, sqlite_url)


@pytest.fixture
def server(election: Election) -> Iterator[str]:
    with live_server(election.config) as url:
        yield url


@pytest.fixture
def indexer(election: Election) -> Iterator[None]:
    """The indexer following the chain in the background, as ``ippyo tally index`` would."""
    engine = make_engine(election.config.database_url)
    worker = make_indexer(election.kit, sessions(engine))
    stopping = threading.Event()
    thread = threading.Thread(
        target=lambda: worker.run(poll_seconds=0.2, observe_seconds=1.0, stop=stopping.is_set),
        daemon=True,
    )
    thread.start()
    yield
    stopping.set()
    thread.join(timeout=30)
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    docs = Path(__file__).resolve().parents[2] / "docs" / "tally"
    target = docs if os.environ.get("IPPYO_SCREENSHOTS") else tmp_path / "shots"
    target.mkdir(parents=True, exist_ok=True)
    return target


def new_page(browser: Browser) -> Page:
    context = browser.new_context(viewport=VIEWPORT, locale="ja-JP", timezone_id="Asia/Tokyo")
    page = context.new_page()
    page.set_default_timeout(20_000)
    return page


def log_in(page: Page, base: str, name: str, password: str | None = None) -> None:
    page.goto(base + "/officials/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password or OFFICIALS[name][1])
    page.click("form.login button[type=submit]")


def test_official_opens_watches_turnout_and_closes(
    browser: Browser, server: str, election: Election, indexer: None, shots: Path
) -> None:
    kit = election.kit
    page = new_page(browser)
    errors: list[str] = []
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on(  # every failed load, named (the browser's own favicon request aside)
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(server + "/officials/")
    expect(page).to_have_url(server + "/officials/login?next=/officials/")
    page.screenshot(path=shots / "officials-login.png", full_page=True)
    log_in(page, server, "otto")
    expect(page).to_have_url(server + "/officials/")
    expect(page.locator("[data-phase]")).to_have_attribute("data-phase", "setup")

    page.fill("form[data-action=open] input[name=password]", KEYSTORE_PASSWORD)
    page.click("form[data-action=open] button[type=submit]")
    expect(page.locator("[data-phase]")).to_have_attribute("data-phase", "open")
    expect(page.locator(".flash")).to_contain_text("the election is open")
    assert kit.box.phase() == Phase.OPEN
    page.screenshot(path=shots / "officials-overview.png", full_page=True)

    page.goto(server + "/officials/turnout")
    ballots = page.locator("[data-turnout-url] [data-field=ballots]")
    expect(ballots).to_have_text("0")
    for _ in range(3):
        kit.cast()
    expect(ballots).to_have_text("3", timeout=30_000)  # the indexer ran, the page polled
    expect(page.locator("[data-no-kiosk]")).to_be_visible()
    report_health(server, "kiosk-01", ballots_cast=2, forgotten_pin=1, wrong_pin=2)
    report_health(server, "kiosk-02", ballots_cast=1, reader="empty", outbox_depth=1)
    expect(page.locator("[data-kiosk-rows] tr")).to_have_count(2)
    expect(page.locator("[data-no-kiosk]")).to_be_hidden()
    kit.cast()
    kit.cast(corrupt=True)  # a broken kiosk's ballot: on chain, excluded by the tally
    report_health(server, "kiosk-01", ballots_cast=4, forgotten_pin=3, wrong_pin=2)
    expect(ballots).to_have_text("5", timeout=30_000)
    expect(page.locator("[data-field=excluded]").first).to_have_text("1")
    last_point = page.evaluate(
        "() => { const c = Chart.getChart('turnout-time'); const d = c.data.datasets[0].data;"
        " return d[d.length - 1]; }"
    )
    assert last_point == 5
    kiosk_bars = page.evaluate("() => Chart.getChart('turnout-kiosk').data.datasets[0].data")
    assert kiosk_bars == [4, 1]
    page.wait_for_timeout(500)
    page.screenshot(path=shots / "officials-turnout.png", full_page=True)

    page.goto(server + "/officials/alerts")
    expect(page.locator("[data-excluded]")).to_have_count(1)
    expect(page.locator("table.alert")).to_contain_text("bad_proof")
    page.screenshot(path=shots / "officials-alerts.png", full_page=True)
    page.goto(server + "/officials/nodes")
    expect(page.locator(f'[data-node="{election.config.rpc_urls[0]}"]')).to_contain_text("正常")
    page.screenshot(path=shots / "officials-nodes.png", full_page=True)
    page.goto(server + "/officials/kiosks")
    expect(page.locator("[data-kiosk]")).to_have_count(2)
    expect(page.locator('[data-kiosk="kiosk-01"] [data-field=forgotten_pin]')).to_have_text("3")
    page.screenshot(path=shots / "officials-kiosks.png", full_page=True)

    kit.challenge()  # a voter checks a ballot before closing time
    page.goto(server + "/officials/")
    expect(page.locator("[data-field=checked]")).to_have_text("1", timeout=30_000)
    page.fill("form[data-action=close] input[name=password]", KEYSTORE_PASSWORD)
    page.click("form[data-action=close] button[type=submit]")
    expect(page.locator("[data-phase]")).to_have_attribute("data-phase", "closed")
    assert kit.box.phase() == Phase.CLOSED
    page.screenshot(path=shots / "officials-closed.png", full_page=True)

    admin = new_page(browser)
    log_in(admin, server, "ada")
    admin.goto(server + "/officials/accounts")
    expect(admin.locator("[data-account]")).to_have_count(3)
    admin.screenshot(path=shots / "officials-accounts.png", full_page=True)
    admin.context.close()

    page.context.close()
    assert errors == [], errors  # no script error, no CSP violation


def test_login_and_csrf_are_enforced_in_the_browser(
    browser: Browser, server: str, election: Election
) -> None:
    page = new_page(browser)
    for path in ("/officials/turnout", "/officials/nodes", "/officials/accounts"):
        page.goto(server + path)
        expect(page).to_have_url(f"{server}/officials/login?next={path}")
    answer = page.request.get(
        server + "/officials/data/turnout.json", headers={"Accept": "application/json"}
    )
    assert answer.status == 401 and answer.json()["error"] == "login_required"

    log_in(page, server, "vera")
    expect(page).to_have_url(server + "/officials/")
    page.goto(server + "/officials/accounts")
    expect(page.locator(".code")).to_contain_text("forbidden")

    # A forged POST (the form without its token) is refused, and nothing happens on chain.
    page.goto(server + "/officials/")
    page.evaluate(
        "() => { const f = document.createElement('form'); f.method = 'post';"
        " f.action = '/officials/logout'; document.body.appendChild(f); f.submit(); }"
    )
    expect(page.locator(".code")).to_contain_text("csrf_token_missing")
    page.goto(server + "/officials/")
    expect(page.locator("form.whoami")).to_contain_text("vera")  # still logged in
    forged = page.evaluate(
        "async () => { const r = await fetch('/officials/logout', {method: 'POST',"
        " headers: {'Content-Type': 'application/x-www-form-urlencoded',"
        " 'Accept': 'application/json'}, body: 'csrf_token=forged'});"
        " return [r.status, (await r.json()).error]; }"
    )
    assert forged == [400, "csrf_token_invalid"]
    token = page.locator("form.whoami input[name=csrf_token]").get_attribute("value")
    viewer_acts = page.evaluate(
        "async (t) => { const r = await fetch('/officials/election/open', {method: 'POST',"
        " headers: {'Content-Type': 'application/x-www-form-urlencoded',"
        " 'Accept': 'application/json'}, body: 'password=x&csrf_token=' + t});"
        " return [r.status, (await r.json()).error]; }",
        token,
    )
    assert viewer_acts == [403, "forbidden"]  # a viewer sees but does not act
    assert election.kit.box.phase() == Phase.SETUP

    # Wrong password again and again: the login is refused even with the right one.
    other = new_page(browser)
    for _ in range(5):
        log_in(other, server, "ada", "wrong password!")
        expect(other.locator("[data-refusal]")).to_have_attribute("data-refusal", "bad_login")
    log_in(other, server, "ada")
    expect(other.locator("[data-refusal]")).to_have_attribute("data-refusal", "too_many_attempts")
    expect(other).to_have_url(server + "/officials/login")
    page.context.close()
    other.context.close()


def test_admin_deploys_from_an_election_plan(
    browser: Browser,
    rpc: TesterRpcServer,
    registrar_key: blind_rsa.RSAPrivateKey,
    tmp_path: Path,
    election: Election,
    shots: Path,
) -> None:
    chain = Chain.connect([rpc.url])
    admin, kiosk = Account.create(), Account.create()
    fund(chain, [admin.address, kiosk.address])
    plan = tmp_path / "election-plan.json"
    plan.write_bytes(make_plan(registrar_key, [kiosk.address]))
    config = replace(
        election.config,
        election_file=tmp_path / "new" / "election-setup.json",
        admin_keystore=write_keystore(tmp_path / "new-admin.json", admin),
    )
    with live_server(config) as base:
        page = new_page(browser)
        log_in(page, base, "ada")
        expect(page.locator("[data-phase]")).to_have_attribute("data-phase", "undeployed")
        page.set_input_files("form[data-action=deploy] input[name=plan]", str(plan))
        page.fill("form[data-action=deploy] input[name=password]", KEYSTORE_PASSWORD)
        page.screenshot(path=shots / "officials-deploy.png", full_page=True)
        page.click("form[data-action=deploy] button[type=submit]")
        expect(page.locator(".flash")).to_contain_text("the BallotBox is deployed at")
        expect(page.locator("[data-phase]")).to_have_attribute("data-phase", "setup")
        assert config.election_file is not None
        setup = load_setup(config.election_file)
        assert BallotBox(chain, setup.contract_hex).phase() == Phase.SETUP
        expect(page.locator("form[data-action=open]")).to_be_visible()
        page.context.close()
