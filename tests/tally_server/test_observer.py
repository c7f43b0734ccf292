"""The observer portal and the JSON API on an indexed election: a ballot on each node, all
ballots, excluded ones with reasons, checked ballots opened with their nonces, the result and
every check, and the record download (which `ippyo verify` accepts once decrypted)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from election.ballot import PlaintextBallot
from election.record import ElectionRecord, verify_record
from election.tally import EncryptedTally, combine, compute_decryption_share
from tally_server.app import create_app
from tally_server.config import TallyConfig
from tally_server.db import make_engine, sessions, upgrade
from tally_server.testing import CastInfo, ElectionKit, TesterBackend, TesterRpcServer

from .conftest import make_indexer


@dataclass
class Observed:
    client: FlaskClient
    app: Flask
    kit: ElectionKit
    cast: list[CastInfo]
    bad: CastInfo
    checked_code: str
    checked_plain: PlaintextBallot
    other_url: str


@pytest.fixture
def observed(
    rpc: TesterRpcServer, kit: ElectionKit, sqlite_url: str, tmp_path: Path
) -> Iterator[Observed]:
    cast = [kit.cast() for _ in range(5)]
    bad = kit.cast(corrupt=True)
    plain = PlaintextBallot.from_choices(
        kit.manifest, {"mayor": ["suzuki"], "projects": ["library", "park"]}
    )
    checked_code, checked_plain = kit.challenge(plain)
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    make_indexer(kit, sessions(engine)).run(poll_seconds=0.01, once=True)
    engine.dispose()
    with TesterRpcServer(TesterBackend()) as other:  # a node of another chain: holds nothing
        config = TallyConfig(
            database_url=sqlite_url,
            election_file=kit.write_setup(tmp_path / "setup.json"),
            rpc_urls=(rpc.url, other.url),
            page_size=4,
        )
        app = create_app(config)
        yield Observed(
            app.test_client(), app, kit, cast, bad, checked_code, checked_plain, other.url
        )
        app.extensions["tally"].engine.dispose()


def _json(response: Any) -> Any:
    assert response.status_code == 200, response.data
    return response.json


def test_a_ballot_by_tracking_code_on_each_node(observed: Observed) -> None:
    code = observed.cast[2].tracking_code
    item = _json(observed.client.get(f"/api/v1/ballots/{code}"))
    assert item["seq"] == observed.cast[2].seq and item["status"] == "counted"
    states = {n["url"]: n["state"] for n in item["nodes"]}
    assert states[observed.other_url] in ("absent", "unreachable")
    assert item["nodes"][0]["state"] == "present"
    # The page, reached the way a voter types the code (lower case, spaces instead of dashes).
    typed = code.lower().replace("-", " ")
    page = observed.client.get("/ballots/lookup", query_string={"code": typed})
    assert page.status_code == 303 and page.headers["Location"].endswith(f"/ballots/{code}")
    html = observed.client.get(f"/ballots/{code}").get_data(as_text=True)
    assert code in html and "集計対象" in html and "present" in html
    assert html.index("集計対象") < html.index("counted")  # Japanese first


def test_unknown_and_malformed_codes_are_named_refusals(observed: Observed) -> None:
    unknown = observed.client.get("/api/v1/ballots/" + "AAAA-" * 12 + "AAAA")
    assert unknown.status_code == 404 and unknown.json["error"] == "ballot_not_found"
    bad = observed.client.get("/api/v1/ballots/not-a-code!")
    assert bad.status_code == 400 and bad.json["error"] == "bad_tracking_code"
    page = observed.client.get("/ballots/lookup?code=%21%21", headers={"Accept": "text/html"})
    assert page.status_code == 400 and "受付番号" in page.get_data(as_text=True)
    paged = observed.client.get("/api/v1/ballots?page=0")
    assert paged.status_code == 400 and paged.json["error"] == "bad_parameter"
    status = observed.client.get("/api/v1/ballots?status=secret")
    assert status.status_code == 400 and status.json["error"] == "bad_parameter"


def test_all_ballots_paginated_and_excluded_with_reasons(observed: Observed) -> None:
    first = _json(observed.client.get("/api/v1/ballots"))
    second = _json(observed.client.get("/api/v1/ballots?page=2"))
    assert first["total"] == 6 and len(first["items"]) == 4 and len(second["items"]) == 2
    assert [b["seq"] for b in first["items"] + second["items"]] == list(range(6))
    excluded = _json(observed.client.get("/api/v1/excluded"))
    assert excluded["total"] == 1
    (item,) = excluded["items"]
    assert item["tracking_code"] == observed.bad.tracking_code
    assert item["reason"]["code"] == "bad_proof"
    assert item["reason"]["message_ja"] and item["reason"]["message_en"]
    html = observed.client.get("/excluded").get_data(as_text=True)
    assert observed.bad.tracking_code in html and item["reason"]["message_ja"] in html
    listing = observed.client.get("/ballots?page=2").get_data(as_text=True)
    assert observed.cast[4].tracking_code in listing


def test_a_checked_ballot_is_opened_with_its_nonce(observed: Observed) -> None:
    item = _json(observed.client.get(f"/api/v1/checked/{observed.checked_code}"))
    assert item["opened"]["ok"] is True
    chosen = {c["id"]: [o["id"] for o in c["chosen"]] for c in item["opened"]["contests"]}
    assert chosen == observed.checked_plain.choices(observed.kit.manifest)
    assert item["nodes"][0]["state"] == "present"
    html = observed.client.get(f"/checked/{observed.checked_code}").get_data(as_text=True)
    assert "正しく復号" in html
    names = {o.id: o.name_ja for c in observed.kit.manifest.contests for o in c.options}
    for option in ("suzuki", "library", "park"):
        assert names[option] in html
    assert _json(observed.client.get("/api/v1/checked"))["total"] == 1


def _decrypt(kit: ElectionKit) -> Any:
    seed = os.urandom(32)

    def provider(tally: EncryptedTally) -> Any:
        shares = tuple(
            # A trustee's share is fixed once given: a fixed seed stands for that here.
            compute_decryption_share(kit.context, t.index, t.secret_share, tally, seed)
            for t in kit.trustees[: kit.context.quorum]
        )
        return shares, combine(kit.context, tally, shares)

    return provider


def test_result_checks_and_record(observed: Observed) -> None:
    pending = _json(observed.client.get("/api/v1/result"))
    assert pending["decrypted"] is False and pending["result"] is None
    statuses = {c["name"]: c["status"] for c in pending["checks"]}
    assert statuses.pop("result") == "pending"
    assert set(statuses.values()) == {"ok"}, pending["checks"]
    assert {c["name"]: c["count"] for c in pending["checks"]}["counted ballots"] == 5

    observed.app.extensions["tally_decryption"] = _decrypt(observed.kit)
    done = _json(observed.client.get("/api/v1/result"))
    assert done["decrypted"] is True and done["verified"] is True
    expected = [[0] * len(c.options) for c in observed.kit.manifest.contests]
    for info in observed.cast:
        assert info.choices is not None
        for ci, row in enumerate(info.choices.selections):
            for oi, m in enumerate(row):
                expected[ci][oi] += m
    assert [[o["count"] for o in c["options"]] for c in done["result"]] == expected
    html = observed.client.get("/result").get_data(as_text=True)
    assert "FAIL" not in html and "OK" in html

    response = observed.client.get("/record.json")
    assert response.headers["Content-Disposition"].startswith("attachment")
    record = ElectionRecord.from_json(response.data)  # the core's strict parser
    assert verify_record(record).ok
    assert len(record.ballots) == 6 and len(record.challenged) == 1
    assert observed.client.get("/api/v1/record").data == response.data


def test_pages_render_without_scripts(observed: Observed) -> None:
    for path in ("/", "/ballots", "/excluded", "/checked", "/result", "/nodes"):
        response = observed.client.get(path)
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
        assert "<script" not in html and 'lang="ja"' in html, path
    summary = _json(observed.client.get("/api/v1/election"))
    assert (summary["ballots"], summary["counted"], summary["excluded"]) == (6, 5, 1)


def test_no_election_configured_is_a_named_refusal(client: FlaskClient) -> None:
    response = client.get("/api/v1/election")
    assert response.status_code == 503 and response.json["error"] == "election_not_configured"


def test_a_large_record_is_verified_in_the_background(
    observed: Observed, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tally_server import public

    monkeypatch.setattr(public, "SYNC_VERIFY_BALLOTS", 0)
    first = _json(observed.client.get("/api/v1/result"))
    assert first["current"] is False and first["checks"] == []  # nothing verified yet
    assert "検証中" in observed.client.get("/result").get_data(as_text=True)
    deadline = time.monotonic() + 60
    while not (later := _json(observed.client.get("/api/v1/result")))["current"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert later["verified_to_block"] == observed.kit.block_number()
    assert {c["status"] for c in later["checks"]} == {"ok", "pending"}
