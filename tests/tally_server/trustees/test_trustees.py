"""Trustees through the real exchange over HTTP: a 3-trustee, quorum-2 ceremony with
``ippyo trustee``, the decryption with one trustee absent, and every refusal named."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import requests

from election.ballot import PlaintextBallot, encrypt_ballot
from election.context import ElectionContext
from election.primitives import blind_rsa
from election.primitives.group import G, Point
from election.tally import tally_ballots
from tally_server.trustees import progress, publish_tally, wire
from tally_server.trustees.exchange import TallyInput

from .conftest import Exchange, People, cli

CONTRACT = b"\x42" * 20


def _as_trustee(exchange: Exchange, people: People, i: int) -> list[str]:
    """Trustee i's connection options: the exchange, its key and its state file."""
    return [
        "--server",
        exchange.url,
        "--key",
        str(people.keys[i]),
        "--state",
        str(people.states[i]),
    ]


def _step(command: str, exchange: Exchange, people: People, i: int, *extra: str) -> str:
    result = cli(command, *_as_trustee(exchange, people, i), *extra)
    assert result.exit_code == 0, result.output
    return result.output


def _ceremony(exchange: Exchange, people: People) -> None:
    for i in (1, 2, 3):
        _step("announce", exchange, people, i, "--election", people.election, "--index", str(i))
    for i in (1, 2, 3):
        _step("deal", exchange, people, i)
    for i in (1, 2, 3):
        assert "complaints against: none" in _step("receive", exchange, people, i)
    for i in (1, 2, 3):
        assert "ceremony complete" in _step("finish", exchange, people, i)


def _context(exchange: Exchange, people: People, key: blind_rsa.RSAPrivateKey) -> ElectionContext:
    ceremony = requests.get(f"{exchange.url}/api/v1/trustees/{people.election}/ceremony").json()
    joint = Point.from_bytes(bytes.fromhex(ceremony["joint_public_key"]))
    return ElectionContext(people.manifest, 3, 2, joint, key.public_key, 1337, CONTRACT)


def _hand_over_tally(
    exchange: Exchange, people: People, key: blind_rsa.RSAPrivateKey
) -> tuple[ElectionContext, dict[str, dict[str, int]]]:
    ctx = _context(exchange, people, key)
    choices = [
        {"mayor": ["m0"], "council": ["c1", "c2"]},
        {"mayor": ["m2"], "council": ["c1"]},
        {"mayor": ["m0"], "council": []},
    ]
    ballots = [
        encrypt_ballot(
            ctx, PlaintextBallot.from_choices(people.manifest, c), secrets.token_bytes(32)
        )
        for c in choices
    ]
    publish_tally(
        exchange.root, people.manifest.election_id, TallyInput(ctx, tally_ballots(ctx, ballots))
    )
    expected = {
        "mayor": {"m0": 2, "m1": 0, "m2": 1},
        "council": {"c0": 0, "c1": 2, "c2": 1, "c3": 0},
    }
    return ctx, expected


def test_ceremony_and_decryption_with_one_trustee_absent(
    exchange: Exchange, people: People, registrar_key: blind_rsa.RSAPrivateKey
) -> None:
    _ceremony(exchange, people)
    state = json.loads(people.states[2].read_text())
    assert state["trustee"]["secret_share"] is not None
    assert people.states[2].stat().st_mode & 0o777 == 0o600
    (mine,) = progress(exchange.app.config)["elections"]
    assert mine["phase"] == "awaiting_tally"
    assert mine["qualified"] == [1, 2, 3]
    assert mine["announced"] == mine["dealt"] == mine["complained"] == [1, 2, 3]

    _, expected = _hand_over_tally(exchange, people, registrar_key)
    assert "(decrypt)" in _step("decrypt", exchange, people, 1)
    # trustee 2 is absent; any 2 of 3 complete the tally
    assert "(done)" in _step("decrypt", exchange, people, 3)
    result = requests.get(f"{exchange.url}/api/v1/trustees/{people.election}/result").json()
    assert result["result"] == expected
    assert result["trustees"] == [1, 3]
    (mine,) = progress(exchange.app.config)["elections"]
    assert (mine["phase"], mine["decrypted"], mine["result"]) == ("done", [1, 3], expected)
    status = cli("status", "--server", exchange.url, "--election", people.election)
    assert status.exit_code == 0 and '"phase": "done"' in status.output
    # every accepted file is on disk, once, and no temporary file is left behind
    names = sorted(p.name for p in (exchange.root / people.election).iterdir())
    assert "decryption-2.json" not in names
    assert {"announcement-1.json", "shares-3.json", "complaints-2.json", "result.json"} <= set(
        names
    )
    assert not [n for n in names if n.endswith(".tmp")]


# --- refusals ------------------------------------------------------------------------------------
def _post(exchange: Exchange, election: str, body: Any) -> tuple[int, dict[str, Any]]:
    response = requests.post(f"{exchange.url}/api/v1/trustees/{election}/uploads", json=body)
    return response.status_code, response.json()


def _announcement(people: People, i: int) -> dict[str, Any]:
    from election.keyceremony import Trustee

    t = Trustee(i, 3, 2, people.manifest.election_id)
    return wire.announcement_to_dict(t.announce())


def _key(people: People, i: int) -> bytes:
    return bytes.fromhex(people.keys[i].read_text().strip())


def test_upload_signed_with_another_trustees_key_is_refused(
    exchange: Exchange, people: People
) -> None:
    eid = people.manifest.election_id
    body = {"announcement": _announcement(people, 1)}
    forged = wire.sign_upload(_key(people, 2), eid, 1, "announcement", body)  # 2 poses as 1
    assert _post(exchange, people.election, forged) == (
        403,
        {
            "error": "bad_signature",
            "message_ja": "この管理者の登録済みの鍵による署名ではありません",
            "message_en": "not signed with this trustee's key registered for the election",
            "detail": "trustee 1",
        },
    )
    # signed correctly by 2, but carrying trustee 1's announcement
    status, body2 = _post(
        exchange, people.election, wire.sign_upload(_key(people, 2), eid, 2, "announcement", body)
    )
    assert (status, body2["error"]) == (403, "wrong_trustee")
    assert not list((exchange.root / people.election).glob("announcement-*.json"))


def test_bad_proof_is_refused(exchange: Exchange, people: People) -> None:
    announcement = _announcement(people, 1)
    proof = bytearray(bytes.fromhex(announcement["proofs"][0]))
    proof[40] ^= 1
    announcement["proofs"][0] = proof.hex()
    envelope = wire.sign_upload(
        _key(people, 1),
        people.manifest.election_id,
        1,
        "announcement",
        {"announcement": announcement},
    )
    status, body = _post(exchange, people.election, envelope)
    assert (status, body["error"]) == (422, "bad_proof"), body
    assert "trustee 1" in body["detail"]


def test_replay_and_wrong_phase_are_refused(exchange: Exchange, people: People) -> None:
    eid = people.manifest.election_id
    envelope = wire.sign_upload(
        _key(people, 1), eid, 1, "announcement", {"announcement": _announcement(people, 1)}
    )
    status, body = _post(exchange, people.election, envelope)
    assert status == 201, body
    stored = (exchange.root / people.election / "announcement-1.json").read_bytes()
    status, body = _post(exchange, people.election, envelope)  # the same upload again
    assert (status, body["error"]) == (409, "already_uploaded")
    again = wire.sign_upload(
        _key(people, 1), eid, 1, "announcement", {"announcement": _announcement(people, 1)}
    )
    status, body = _post(exchange, people.election, again)  # another polynomial: no overwrite
    assert (status, body["error"]) == (409, "already_uploaded")
    assert (exchange.root / people.election / "announcement-1.json").read_bytes() == stored
    # dealing before everyone announced
    status, body = _post(
        exchange,
        people.election,
        wire.sign_upload(_key(people, 1), eid, 1, "shares", {"shares": []}),
    )
    assert (status, body["error"]) == (409, "wrong_phase")
    # a decryption share before any tally
    status, body = _post(
        exchange,
        people.election,
        wire.sign_upload(_key(people, 1), eid, 1, "decryption", {"tally_hash": "", "share": {}}),
    )
    assert (status, body["error"]) == (409, "wrong_phase")


def test_malformed_and_misaddressed_uploads_are_refused(exchange: Exchange, people: People) -> None:
    url = f"{exchange.url}/api/v1/trustees/{people.election}/uploads"
    response = requests.post(url, data=b"not json", headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()["error"]) == (400, "bad_upload")
    status, body = _post(exchange, people.election, {"election": people.election})
    assert (status, body["error"]) == (400, "bad_upload")
    assert "upload.body: missing" in body["detail"]
    other = wire.sign_upload(_key(people, 1), b"\x01" * 32, 1, "announcement", {"announcement": {}})
    status, body = _post(exchange, people.election, other)
    assert (status, body["error"]) == (400, "wrong_election")
    status, body = _post(exchange, "ab" * 32, other)
    assert (status, body["error"]) == (404, "unknown_election")
    status, body = _post(exchange, "a..b", other)  # never a path outside TRUSTEE_DIR
    assert (status, body["error"]) == (404, "unknown_election")


def test_bad_decryption_shares_are_refused(
    exchange: Exchange, people: People, registrar_key: blind_rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    _ceremony(exchange, people)
    ctx, _ = _hand_over_tally(exchange, people, registrar_key)
    # trustee 1 computes an honest share, then alters one point of it
    from election.keyceremony import Trustee

    state = json.loads(people.states[1].read_text())
    t1 = Trustee.from_state(state["trustee"], people.manifest.election_id)
    raw = requests.get(f"{exchange.url}/api/v1/trustees/{people.election}/tally").json()
    encrypted = wire.tally_from_dict(raw["tally"], people.manifest)
    from election.tally import compute_decryption_share

    share = compute_decryption_share(ctx, 1, t1.secret_share, encrypted, b"s" * 32)
    doc = wire.decryption_to_dict(share)
    doc["shares"][0][1] = (Point.from_bytes(bytes.fromhex(doc["shares"][0][1])) + G).hex()
    bad = {"tally_hash": wire.tally_hash(encrypted).hex(), "share": doc}
    status, body = _post(
        exchange,
        people.election,
        wire.sign_upload(_key(people, 1), ctx.election_id, 1, "decryption", bad),
    )
    assert (status, body["error"]) == (422, "bad_proof"), body
    stale = {"tally_hash": "00" * 32, "share": wire.decryption_to_dict(share)}
    status, body = _post(
        exchange,
        people.election,
        wire.sign_upload(_key(people, 1), ctx.election_id, 1, "decryption", stale),
    )
    assert (status, body["error"]) == (409, "wrong_tally")
    # the honest one is accepted
    good = {"tally_hash": wire.tally_hash(encrypted).hex(), "share": wire.decryption_to_dict(share)}
    status, body = _post(
        exchange,
        people.election,
        wire.sign_upload(_key(people, 1), ctx.election_id, 1, "decryption", good),
    )
    assert status == 201, body


def test_cli_reports_a_refusal_and_an_unreachable_server(
    exchange: Exchange, people: People
) -> None:
    _step("announce", exchange, people, 1, "--election", people.election, "--index", "1")
    result = cli(
        "deal",
        "--server",
        exchange.url,
        "--key",
        str(people.keys[1]),
        "--state",
        str(people.states[1]),
    )
    assert result.exit_code == 1
    assert "1 of 3 trustees have announced" in result.output
    result = cli(
        "announce",
        "--server",
        exchange.url,
        "--key",
        str(people.keys[2]),
        "--state",
        str(people.states[1]),
        "--election",
        people.election,
        "--index",
        "2",
    )
    assert result.exit_code == 1  # trustee 1's state file cannot announce for trustee 2
    result = cli("status", "--server", "http://127.0.0.1:9")
    assert result.exit_code == 2
    assert "does not answer" in result.output


def test_concurrent_uploads_store_exactly_one(exchange: Exchange, people: People) -> None:
    """Two different announcements for trustee 1 at once: one is stored, the other refused."""
    import threading

    eid = people.manifest.election_id
    envelopes = [
        wire.sign_upload(
            _key(people, 1), eid, 1, "announcement", {"announcement": _announcement(people, 1)}
        )
        for _ in range(4)
    ]
    answers: list[tuple[int, dict[str, Any]]] = []
    barrier = threading.Barrier(len(envelopes))

    def go(envelope: dict[str, Any]) -> None:
        barrier.wait()
        answers.append(_post(exchange, people.election, envelope))

    threads = [threading.Thread(target=go, args=(e,)) for e in envelopes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(status for status, _ in answers) == [201, 409, 409, 409]
    stored = json.loads((exchange.root / people.election / "announcement-1.json").read_bytes())
    assert stored in envelopes  # one of them, whole


def test_deeply_nested_upload_is_a_named_refusal(exchange: Exchange, people: People) -> None:
    url = f"{exchange.url}/api/v1/trustees/{people.election}/uploads"
    body = b"[" * 30_000 + b"]" * 30_000  # under the server's 64 KB body limit
    response = requests.post(url, data=body, headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()["error"]) == (400, "bad_upload")
    body = b"[" * 100_000 + b"]" * 100_000  # over it: refused before it is read
    response = requests.post(url, data=body, headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()["error"]) == (413, "request_too_large")


def test_keys_and_states_sealed_with_a_passphrase(
    exchange: Exchange, people: People, monkeypatch: Any, tmp_path: Path
) -> None:
    monkeypatch.setenv("IPPYO_TRUSTEE_PASSPHRASE", "seven words are better than one")
    sealed_key = tmp_path / "sealed.key"
    result = cli("keygen", "--out", str(sealed_key))
    assert result.exit_code == 0, result.output
    assert json.loads(sealed_key.read_text())["format"] == "ippyo/encrypted-file"
    _ceremony(exchange, people)  # every state file is written sealed, and read back
    text = people.states[1].read_text()
    doc = json.loads(text)
    assert doc["format"] == "ippyo/encrypted-file" and doc["kdf"]["name"] == "scrypt"
    assert "coefficients" not in text and "secret_share" not in text
    monkeypatch.setenv("IPPYO_TRUSTEE_PASSPHRASE", "a wrong guess")
    result = cli("status", "--server", exchange.url)  # no secret needed: works
    assert result.exit_code == 0
    result = cli(
        "finish",
        "--server",
        exchange.url,
        "--key",
        str(people.keys[1]),
        "--state",
        str(people.states[1]),
    )
    assert result.exit_code == 2
    assert "wrong passphrase" in result.output


def test_trustee_dir_from_the_tally_apps_typed_config(exchange: Exchange, people: People) -> None:
    """Mounted in the tally app, TRUSTEE_DIR may come from its typed config (``trustee_dir``)."""
    from types import SimpleNamespace

    from flask import Flask

    from tally_server.trustees import create_blueprint

    app = Flask("typed-config")
    app.extensions["tally"] = SimpleNamespace(config=SimpleNamespace(trustee_dir=exchange.root))
    app.register_blueprint(create_blueprint(), url_prefix="/api/v1/trustees")
    answer = app.test_client().get(f"/api/v1/trustees/{people.election}")
    assert answer.status_code == 200 and answer.json is not None
    assert answer.json["phase"] == "announce"
    typed = progress(SimpleNamespace(trustee_dir=exchange.root))
    assert [e["election_id"] for e in typed["elections"]] == [people.election]


def test_a_damaged_state_file_is_a_named_refusal(exchange: Exchange, people: People) -> None:
    _step("announce", exchange, people, 1, "--election", people.election, "--index", "1")
    people.states[1].write_text('{"format": "ippyo/trustee-state", "version": 1}')
    result = cli(
        "deal",
        "--server",
        exchange.url,
        "--key",
        str(people.keys[1]),
        "--state",
        str(people.states[1]),
    )
    assert result.exit_code == 1
    assert "unexpected data (KeyError" in result.output


def test_registered_in_the_ippyo_command() -> None:
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": str(root)}
    listing = subprocess.run(
        [sys.executable, "-m", "ippyo", "--help"], capture_output=True, text=True, env=env
    )
    assert "trustee" in listing.stdout
    result = subprocess.run(
        [sys.executable, "-m", "ippyo", "trustee", "--help"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    for command in ("announce", "deal", "receive", "finish", "decrypt", "tally", "record"):
        assert command in text
    assert "Exit status: 0 done; 1 refused" in text


def test_a_passphrase_typed_at_the_prompt_keeps_the_state_sealed(
    exchange: Exchange, people: People, monkeypatch: Any
) -> None:
    """A trustee who types the passphrase (no environment variable) gets the state file
    written back sealed with it — never in the clear."""
    from click.testing import CliRunner

    from ippyo.trustee import trustee

    phrase = "typed, not exported"
    monkeypatch.setenv("IPPYO_TRUSTEE_PASSPHRASE", phrase)
    for step in ("announce", "deal"):
        for i in (1, 2, 3):
            extra = ["--election", people.election, "--index", str(i)] if step == "announce" else []
            _step(step, exchange, people, i, *extra)
    monkeypatch.delenv("IPPYO_TRUSTEE_PASSPHRASE")
    args = _as_trustee(exchange, people, 1)
    result = CliRunner().invoke(trustee, ["receive", *args], input=phrase + "\n")
    assert result.exit_code == 0, result.output
    assert "complaints against: none" in result.output
    text = people.states[1].read_text()
    assert json.loads(text)["format"] == "ippyo/encrypted-file"  # receive saved it: sealed
    assert "secret_share" not in text and "coefficients" not in text
    # the next command does not remember the last one's passphrase
    again = CliRunner().invoke(trustee, ["receive", *args], input="a wrong guess\n")
    assert again.exit_code == 2 and "wrong passphrase" in again.output


def test_decrypt_with_a_node_that_does_not_answer_is_a_named_refusal(
    exchange: Exchange, people: People, registrar_key: blind_rsa.RSAPrivateKey
) -> None:
    from tally_server.testing import free_port

    _ceremony(exchange, people)
    ctx, _ = _hand_over_tally(exchange, people, registrar_key)
    dead = f"http://127.0.0.1:{free_port()}"
    contract = "0x" + ctx.contract_address.hex()
    result = cli(
        "decrypt", *_as_trustee(exchange, people, 1), "--rpc", dead, "--contract", contract
    )
    assert result.exit_code == 2, result.output
    assert "the chain cannot be read" in result.output
    assert "Traceback" not in result.output
    assert not list((exchange.root / people.election).glob("decryption-*.json"))


def test_plan_for_the_dashboard_after_the_ceremony(
    exchange: Exchange, people: People, registrar_key: blind_rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    """``ippyo trustee plan`` writes the election plan the dashboard deploys from — only once
    the ceremony is complete — and refuses a bad registrar key, address or an existing file."""
    from tally_server.officials.deploy import plan_from_json

    public = tmp_path / "registrar-public.pem"
    public.write_bytes(blind_rsa.public_key_to_pem(registrar_key.public_key))
    out = tmp_path / "plan.json"
    kiosks = ["0x" + "11" * 20, "0x" + "22" * 20]
    args = ["plan", "--dir", str(exchange.root), "--election", people.election]
    args += ["--registrar-public", str(public), "--kiosk", kiosks[0], "--kiosk", kiosks[1]]
    early = cli(*args, "--out", str(out))
    assert early.exit_code == 1 and "ceremony is not complete" in early.output
    odd = cli(
        "plan", "--dir", str(exchange.root), "--election", "../x", *args[5:], "--out", str(out)
    )
    assert odd.exit_code == 1 and "64 lowercase hexadecimal digits" in odd.output
    assert not out.exists()
    _ceremony(exchange, people)
    done = cli(*args, "--out", str(out))
    assert done.exit_code == 0, done.output
    plan = plan_from_json(out.read_bytes())
    assert plan.manifest == people.manifest
    assert (plan.trustees, plan.quorum, plan.revote_allowed) == (3, 2, False)
    assert plan.registrar_key == registrar_key.public_key
    assert [k.lower() for k in plan.kiosks] == kiosks
    assert len(plan.announcements) == 3
    again = cli(*args, "--out", str(out))
    assert again.exit_code == 1 and "refusing to overwrite" in again.output
    bad_pem = tmp_path / "bad.pem"
    bad_pem.write_text("not a key")
    wrong = cli(*args[:-4], "--registrar-public", str(bad_pem), "--kiosk", kiosks[0],
                "--out", str(tmp_path / "p2.json"))  # fmt: skip
    assert wrong.exit_code == 1 and "not an RSA public key" in wrong.output
    address = cli(*args[:-4], "--registrar-public", str(public), "--kiosk", "0x12",
                  "--out", str(tmp_path / "p3.json"))  # fmt: skip
    assert address.exit_code == 2 and "not a 0x address" in address.output
