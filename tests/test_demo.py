"""The whole election, end to end: the demo's scenario played through the real services (the
registrar, the chain, the tally server with the trustees' exchange and its indexer, pcscd with
the virtual cards, kiosk sessions and a real headless kiosk process), and the verified result
compared with the choices the simulated voters made — on the embedded default and on three
geth nodes. Then ``ippyo demo --serve`` as a newcomer runs it: the servers stay up, answer, and
stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import requests

from ippyo.demo_run import DemoOutcome, DemoRun, Event
from ippyo.narrate import Narrator, summary
from ippyo.scenario import (
    COUNTED,
    INELIGIBLE,
    MAX_VOTERS,
    MIN_VOTERS,
    SPECIAL,
    Behaviour,
    Scenario,
    build_scenario,
    expected_result,
)
from registrar.eligibility import age_on

SCRIPT = Path(sys.executable).parent / "ippyo"


# --- the scenario ----------------------------------------------------------------------------
def test_the_scenario_is_frozen_and_has_every_behaviour() -> None:
    scenario = build_scenario(50, 2018)
    assert scenario == build_scenario(50, 2018)
    assert scenario != build_scenario(50, 2019)
    kinds = Counter(v.behaviour for v in scenario.voters)
    assert all(kinds[b] == 1 for b in SPECIAL), kinds
    assert kinds[Behaviour.CHECKS] == 50 // 8
    assert len({(v.name, v.born, v.gender) for v in scenario.voters}) == 50  # 50 persons
    big = build_scenario(3000, 1)  # more voters than name combinations: still one per person
    assert len({(v.name, v.born, v.gender) for v in big.voters}) == 3000
    day = scenario.manifest.election_date
    for voter in scenario.voters:
        grown = age_on(voter.born, day) >= 18
        assert grown == (voter.behaviour is not Behaviour.UNDER_AGE), voter
        in_city = voter.address.startswith(scenario.municipality)
        assert in_city == (voter.behaviour is not Behaviour.OTHER_MUNICIPALITY), voter
    assert (scenario.trustees, scenario.quorum, scenario.absent_trustees) == (3, 2, (3,))
    counted = sum(1 for v in scenario.voters if v.behaviour in COUNTED)
    assert sum(expected_result(scenario)[0]) == counted  # one mayor per counted ballot
    for wrong in (MIN_VOTERS - 1, MAX_VOTERS + 1):
        with pytest.raises(ValueError, match=f"at least {MIN_VOTERS} and at most {MAX_VOTERS}"):
            build_scenario(wrong)


# --- the run ---------------------------------------------------------------------------------
def _play(
    scenario: Scenario, workdir: Path, devnet: bool, shots: Path | None = None
) -> tuple[DemoOutcome, list[str]]:
    said: list[str] = []
    events: list[Event] = []
    narrator = Narrator(said.append, every_voter=True)

    def listen(event: Event) -> None:
        events.append(event)
        narrator(event)

    with DemoRun(scenario, workdir, devnet=devnet, listener=listen) as run:
        outcome = run.play()
        _every_receipt_on_the_observer_portal(outcome)
        # The record an observer downloads is byte for byte the one published on chain.
        for path in ("record.json", "api/v1/record"):
            served = requests.get(outcome.urls["observer"] + path, timeout=60).content
            assert served == outcome.record_path.read_bytes(), path
        if shots is not None:
            _what_the_officials_and_observers_see(outcome, shots)
        said += summary(scenario, outcome)
    assert [e.data["name"] for e in events if e.kind == "stage"] == list(outcome.stage_seconds)
    return outcome, said


def _every_receipt_on_the_observer_portal(outcome: DemoOutcome) -> None:
    """Each voter's tracking code can be looked up (services still up inside the run)."""
    base = outcome.urls["observer"].rstrip("/")
    for o in outcome.voters:
        if o.tracking_code is None:
            continue
        body = requests.get(f"{base}/api/v1/ballots/{o.tracking_code}", timeout=30).json()
        want = "excluded" if o.voter.behaviour is Behaviour.CORRUPT_PROOF else "counted"
        assert body["status"] == want, (o.voter, body)
        assert {n["state"] for n in body["nodes"]} == {"present"}, body
        assert requests.get(f"{base}/ballots/{o.tracking_code}", timeout=30).status_code == 200
    if any(o.checked_code for o in outcome.voters):
        code = next(o.checked_code for o in outcome.voters if o.checked_code)
        assert requests.get(f"{base}/api/v1/checked/{code}", timeout=30).status_code == 200


DOCS = Path(__file__).resolve().parents[1] / "docs" / "demo"


def _what_the_officials_and_observers_see(outcome: DemoOutcome, folder: Path) -> None:
    """After the election, in headless Chromium: the official's dashboard (logged in) with the
    trustees' progress, the kiosks' health and the alert for the broken kiosk's ballot; the
    observer's result, exclusions and a receipt looked up on each node. Screenshots go to
    ``folder`` (docs/demo/ with IPPYO_SCREENSHOTS=1)."""
    from playwright.sync_api import sync_playwright

    from ippyo.demo_run import OFFICIAL
    from tests.tally_server.test_browser_observer import CHROMIUM, CHROMIUM_ARGS

    base = outcome.urls["observer"].rstrip("/")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            tab = browser.new_page(viewport={"width": 1280, "height": 900})
            tab.goto(outcome.urls["dashboard"])
            tab.fill("input[name=username]", OFFICIAL)
            tab.fill("input[name=password]", outcome.official_password)
            tab.click("button[type=submit]")
            tab.wait_for_url(f"{base}/officials/")
            main = tab.inner_text("main")
            assert outcome.contract.lower() in main.lower(), main
            tab.screenshot(path=str(folder / "officials-after-the-election.png"), full_page=True)
            tab.goto(f"{base}/officials/kiosks")
            kiosks = tab.inner_text("main")
            for kiosk_id in ("tsukuba-cityhall-01", "tsukuba-cityhall-02", "tsukuba-cityhall-03"):
                assert kiosk_id in kiosks, kiosks
            tab.screenshot(path=str(folder / "officials-kiosks.png"), full_page=True)
            tab.goto(f"{base}/officials/alerts")
            assert "bad_proof" in tab.inner_text("main")
            tab.screenshot(path=str(folder / "officials-alerts.png"), full_page=True)
            tab.goto(outcome.urls["result"])
            assert "FAIL" not in tab.inner_text("main")
            tab.screenshot(path=str(folder / "observer-result.png"), full_page=True)
            tab.goto(f"{base}/excluded")
            assert "bad_proof" in tab.inner_text("main")
            tab.screenshot(path=str(folder / "observer-excluded.png"), full_page=True)
            tab.goto(outcome.urls["receipt"])
            tab.screenshot(path=str(folder / "observer-receipt.png"), full_page=True)
        finally:
            browser.close()


def _check(scenario: Scenario, outcome: DemoOutcome, said: list[str]) -> None:
    # The verified result is exactly what the voters chose.
    assert outcome.result == expected_result(scenario)
    assert outcome.verify_exit == 0, outcome.verify_output
    assert "FAIL" not in outcome.verify_output
    assert outcome.server_checks_ok
    assert outcome.verified
    # Each person's visit ended where their behaviour leads.
    by = {o.voter.number: o for o in outcome.voters}
    assert len(by) == len(scenario.voters)
    for voter in scenario.voters:
        o = by[voter.number]
        b = voter.behaviour
        if b in INELIGIBLE:
            assert (o.state, o.refusal) == ("refused", INELIGIBLE[b]), o
        elif b is Behaviour.LOCKS:
            assert o.state == "help_desk" and o.tries_left == [5, 4, 3, 2, 1], o
        elif b is Behaviour.KIOSK_CRASH:
            assert o.state == "already_voted", o  # the killed kiosk's ballot landed
        else:
            assert o.state == "receipt" and o.tracking_code, o
        if b is Behaviour.MISTYPES:
            assert o.tries_left == [5, 4], o
        if b is Behaviour.DOUBLE_VOTE:
            assert o.second_visit == "already_voted", o
        assert (o.checked_code is not None) == (b is Behaviour.CHECKS), o
    cast = [v for v in scenario.voters if v.behaviour in COUNTED | {Behaviour.CORRUPT_PROOF}]
    assert outcome.ballots_on_chain == len(cast)
    assert outcome.checked_on_chain == len(scenario.by_behaviour(Behaviour.CHECKS))
    assert [reason for _, reason in outcome.excluded] == ["bad_proof"]
    assert outcome.forged_token_refusal == "InvalidRegistrarSignature"
    # The narration says it in both languages, and the summary has the URLs.
    text = "\n".join(said)
    assert "鍵生成式 / key ceremony" in text and "検証済み / verified" in text
    assert outcome.urls["dashboard"] in text and outcome.urls["observer"] in text
    assert outcome.record_path.exists()


def _processes_mentioning(path: Path) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(path) in cmdline:
            found.append(f"{proc.name}: {cmdline}")
    return found


def test_the_demo_election_on_the_embedded_default(tmp_path: Path) -> None:
    scenario = build_scenario()  # what `ippyo demo` runs: 50 voters
    shots = DOCS if os.environ.get("IPPYO_SCREENSHOTS") else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    outcome, said = _play(scenario, tmp_path / "demo", devnet=False, shots=shots)
    _check(scenario, outcome, said)
    assert outcome.chain == "embedded"
    assert not _processes_mentioning(tmp_path)


def test_the_demo_election_on_three_geth_nodes(tmp_path: Path) -> None:
    scenario = build_scenario(20, 2026)
    outcome, said = _play(scenario, tmp_path / "demo", devnet=True)
    _check(scenario, outcome, said)
    assert outcome.chain == "devnet"
    assert "3 node(s)" in outcome.verify_output
    assert not _processes_mentioning(tmp_path)  # every geth node stopped


# --- the command ------------------------------------------------------------------------------
def test_ippyo_demo_serve_and_kiosk(tmp_path: Path) -> None:
    """``ippyo demo --kiosk --serve``: the real kiosk window starts from the configuration the
    demo writes (it passes its start-up checks against the contract and inserts its TEST card
    in vpcd's first reader) and the demo goes on when it is closed; then the servers stay up,
    answer, and stop on SIGTERM."""
    from card_reader.pcsc import wait_for_reader_state
    from card_reader.stack import VIRTUAL_READER

    workdir = tmp_path / "demo"
    command = [str(SCRIPT), "demo", "--voters", str(MIN_VOTERS), "--workdir", str(workdir)]
    proc = subprocess.Popen(
        [*command, "--serve", "--kiosk"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "QT_QPA_PLATFORM": "offscreen"},
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "the kiosk window opens" in line:
                wait_for_reader_state(VIRTUAL_READER, True, 60.0)  # the window is built
                window = _processes_mentioning(workdir / "kiosk-window" / "kiosk.toml")
                assert len(window) == 1, window
                os.kill(int(window[0].split(":")[0]), signal.SIGTERM)  # the voter closes it
            if "Ctrl-C" in line:
                break
        text = "".join(lines)
        assert f"the kiosk window closed (exit -{int(signal.SIGTERM)})" in text, text
        assert "cannot start" not in text
        assert "投票者の選択と一致" not in text  # the window's voter chose freely
        assert "検証済み / verified" in text
        dashboard = _url_after("officials' dashboard: ", lines)
        observer = _url_after("observer portal: ", lines)
        password = (workdir / "official-password.txt").read_text().strip()
        assert (workdir / "official-password.txt").stat().st_mode & 0o777 == 0o600
        assert password in text
        login = requests.get(dashboard, timeout=30)
        assert login.status_code == 200 and "/officials/login" in login.url
        result = requests.get(observer.rstrip("/") + "/api/v1/result", timeout=30).json()
        assert result["decrypted"] is True
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                requests.get(observer, timeout=2)
            except requests.ConnectionError:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the tally server still answers after the demo stopped")
    finally:
        if proc.poll() is None:  # the test failed early: let the demo stop its services first
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert not _processes_mentioning(workdir)


def _url_after(label: str, lines: list[str]) -> str:
    return next(ln.split(label, 1)[1].strip() for ln in lines if f"{label}http" in ln)


def test_ippyo_demo_refuses_too_few_voters() -> None:
    result = subprocess.run([str(SCRIPT), "demo", "--voters", "3"], capture_output=True, text=True)
    assert result.returncode == 2
    assert f"at least {MIN_VOTERS}" in result.stderr


def test_ippyo_demo_never_empties_a_folder_it_did_not_make(tmp_path: Path) -> None:
    precious = tmp_path / "thesis.txt"
    precious.write_text("years of work")
    result = subprocess.run(
        [str(SCRIPT), "demo", "--voters", str(MIN_VOTERS), "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "is not empty and no demo made it" in result.stderr
    assert precious.read_text() == "years of work"


def _pcscd_pids() -> set[str]:
    return {line.split(":")[0] for line in _processes_mentioning(Path("/usr/sbin/pcscd"))}


def test_sigterm_in_the_middle_of_voting_stops_what_the_demo_started(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    before = _pcscd_pids()
    proc = subprocess.Popen(
        [str(SCRIPT), "demo", "--voters", str(MIN_VOTERS), "--workdir", str(workdir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "/ voting" in line:
                break
        observer = _url_after("tally server: ", [ln.split("  (")[0] for ln in lines])
        assert requests.get(observer, timeout=10).status_code == 200
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=60)[0]
        assert proc.returncode != 0, rest
        assert "Traceback" not in rest, rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with pytest.raises(requests.ConnectionError):
        requests.get(observer, timeout=5)
    assert not _processes_mentioning(workdir)
    assert _pcscd_pids() <= before  # a pcscd the demo started is gone again
