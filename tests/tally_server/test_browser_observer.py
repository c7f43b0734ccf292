"""The observer portal in a real browser (headless Chromium driven by Playwright): a voter
types the tracking code from the receipt and finds the ballot; a checked ballot shows what was
chosen; the result page lists every check. No script runs on these pages.

Set IPPYO_SCREENSHOTS=1 to write the screenshots into docs/tally/ (otherwise a temp dir)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from contracts.chain import Chain
from election.ballot import PlaintextBallot
from election.primitives import blind_rsa
from tally_server.app import create_app
from tally_server.config import TallyConfig
from tally_server.db import make_engine, sessions, upgrade
from tally_server.indexer import Indexer
from tally_server.testing import CastInfo, ElectionKit, TesterRpcServer, live_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "tally"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def portal(
    tmp_path: Path, registrar_key: blind_rsa.RSAPrivateKey
) -> Iterator[tuple[str, list[CastInfo], str, CastInfo]]:
    with TesterRpcServer() as rpc:
        kit = ElectionKit(Chain.connect([rpc.url]), registrar_key)
        cast = [kit.cast() for _ in range(4)]
        bad = kit.cast(corrupt=True)
        plain = PlaintextBallot.from_choices(
            kit.manifest, {"mayor": ["tanaka"], "projects": ["library"]}
        )
        checked_code, _ = kit.challenge(plain)
        url = f"sqlite:///{tmp_path / 'tally.db'}"
        upgrade(url)
        engine = make_engine(url)
        Indexer(kit.setup, kit.chain, sessions(engine), confirmations=0).run(
            poll_seconds=0.01, once=True
        )
        engine.dispose()
        config = TallyConfig(
            database_url=url,
            election_file=kit.write_setup(tmp_path / "setup.json"),
            rpc_urls=(rpc.url,),
        )
        app = create_app(config)
        with live_server(app, config) as base:
            yield base, cast, checked_code, bad
        app.extensions["tally"].engine.dispose()


def _shots(tmp_path: Path) -> Path:
    if os.environ.get("IPPYO_SCREENSHOTS"):
        DOCS.mkdir(parents=True, exist_ok=True)
        return DOCS
    return tmp_path


def test_an_observer_looks_up_a_ballot_and_a_checked_ballot(
    browser: Browser,
    portal: tuple[str, list[CastInfo], str, CastInfo],
    tmp_path: Path,
) -> None:
    base, cast, checked_code, bad = portal
    shots = _shots(tmp_path)
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1100, "height": 900}
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.goto(base + "/")
    assert page.locator("#ballots").inner_text() == "5"
    page.screenshot(path=str(shots / "observer-home.png"), full_page=True)
    # The voter types the code from the receipt, in lower case, with spaces.
    page.fill("#code", cast[1].tracking_code.lower().replace("-", " "))
    page.click("button[type=submit]")
    assert page.url.endswith("/ballots/" + cast[1].tracking_code)
    assert "集計対象" in page.locator("#status").inner_text()
    assert "present" in page.locator("#nodes").inner_text()
    page.screenshot(path=str(shots / "observer-ballot.png"), full_page=True)

    page.goto(base + "/excluded")
    assert bad.tracking_code in page.content()
    page.screenshot(path=str(shots / "observer-excluded.png"), full_page=True)

    page.goto(f"{base}/checked/{checked_code}")
    assert "正しく復号" in page.locator("#opened").inner_text()
    chosen = page.locator("ul.chosen").all_inner_texts()
    assert any("Tanaka" in c or "田中" in c for c in chosen), chosen
    page.screenshot(path=str(shots / "observer-checked.png"), full_page=True)

    page.goto(base + "/result")
    checks = page.locator("#checks").inner_text()
    assert "FAIL" not in checks and "ballots" in checks
    page.screenshot(path=str(shots / "observer-result.png"), full_page=True)

    assert errors == []  # nothing failed to load, the CSP blocked nothing the pages needed

    response = page.goto(base + "/ballots/" + "AAAA-" * 12 + "AAAA")
    assert response is not None and response.status == 404
    assert "まだ集計サーバーに登録されていません" in page.content()
    context.close()
