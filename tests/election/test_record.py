"""The election record (version 2): strict parsing and the named checks.

Every alteration starts from an honest record and must be refused: either while parsing (an
``EncodingError`` naming the JSON path) or by ``verify_record`` (the named check fails).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from election.ballot import tracking_code
from election.context import ElectionContext
from election.errors import EncodingError, InvalidRecord
from election.manifest import Manifest, manifest_from_dict
from election.primitives import blind_rsa
from election.primitives.blind_rsa import RSAPublicKey
from election.primitives.group import G, Point
from election.primitives.hashing import sha256
from election.record import (
    CHECKS,
    ElectionRecord,
    record_from_dict,
    record_from_json,
    verify_record,
)
from tests.election.record_helpers import Builder, honest_builder

Raw = dict[str, Any]


@pytest.fixture(scope="module")
def builder(manifest: Manifest, registrar_key: blind_rsa.RSAPrivateKey) -> Builder:
    return honest_builder(manifest, registrar_key)


@pytest.fixture(scope="module")
def honest(builder: Builder) -> ElectionRecord:
    return builder.record()


@pytest.fixture(scope="module")
def honest_raw(honest: ElectionRecord) -> Raw:
    return json.loads(honest.to_json())


def test_honest_record_verifies_and_round_trips(honest: ElectionRecord) -> None:
    data = honest.to_json()
    again = record_from_json(data)
    assert again.to_json() == data
    report = verify_record(again)
    assert [c.name for c in report.checks] == list(CHECKS)
    assert report.check("counted ballots").count == 4  # 5 cast, one with a broken proof
    assert report.check("checked ballots").count == 1
    assert [e.code for e in honest.excluded] == ["bad_proof"]


def _set_ballot(raw: Raw, section: str, i: int, ballot: bytes) -> None:
    entry = raw[section][i]
    entry["ballot"] = ballot.hex()
    entry["ballot_hash"] = sha256(ballot).hex()
    entry["tracking_code"] = tracking_code(sha256(ballot))


def _flip(text: str, at: int) -> str:
    return text[:at] + ("0" if text[at] != "0" else "1") + text[at + 1 :]


def _other_nonce_ballot(raw: Raw, builder: Builder) -> None:
    other = builder.encrypt({"mayor": ["m2"], "council": ["c0"]}).to_bytes()
    _set_ballot(raw, "challenged", 0, other)


def _swap_options(raw: Raw) -> None:
    data = bytearray(bytes.fromhex(raw["challenged"][0]["ballot"]))
    a, b = 36, 36 + 194  # first two options of the first contest: ciphertext + 0/1 proof each
    data[a : a + 194], data[b : b + 194] = data[b : b + 194], data[a : a + 194]
    _set_ballot(raw, "challenged", 0, bytes(data))


def _corrupt_checked_proof(raw: Raw) -> None:
    data = bytearray(bytes.fromhex(raw["challenged"][0]["ballot"]))
    data[36 + 66 + 10] ^= 1
    _set_ballot(raw, "challenged", 0, bytes(data))


def _renumber_after_drop(raw: Raw) -> None:
    del raw["ballots"][1]
    for i, b in enumerate(raw["ballots"]):
        b["seq"] = i
    raw["excluded"] = [dict(e, seq=e["seq"] - 1) for e in raw["excluded"]]


def _drop_with_exclusion(raw: Raw) -> None:
    bad = raw["excluded"][0]["seq"]
    raw["ballots"] = [b for b in raw["ballots"] if b["seq"] != bad]
    raw["excluded"] = []


def _rebase(raw: Raw) -> None:
    """Recompute the base hash after a parameter change (a forger would do it too)."""
    ctx = ElectionContext(
        manifest_from_dict(raw["manifest"]),
        raw["parameters"]["trustees"],
        raw["parameters"]["quorum"],
        Point.from_hex(raw["joint_public_key"]),
        RSAPublicKey(int(raw["registrar_key"]["n"], 16), raw["registrar_key"]["e"]),
        raw["chain"]["chain_id"],
        bytes.fromhex(raw["chain"]["contract"][2:]),
        raw["parameters"]["revote_allowed"],
    )
    raw["base_hash"] = ctx.base_hash.hex()


def _weak_modulus_unrebased(raw: Raw) -> None:
    raw["registrar_key"]["n"] = f"{(1 << 1023) + 1 + 2 * 12345:x}"


def _revote_rebased(raw: Raw) -> None:
    raw["parameters"]["revote_allowed"] = True
    _rebase(raw)


def _other_joint_key(raw: Raw) -> None:
    raw["joint_public_key"] = (G * 5).hex()
    _rebase(raw)


def _second_share_entry(raw: Raw) -> None:
    raw["ceremony"]["shares"].insert(1, copy.deepcopy(raw["ceremony"]["shares"][0]))


def _same_aux_key(raw: Raw) -> None:
    ann = raw["ceremony"]["announcements"]
    ann[1]["aux_public_key"] = ann[0]["aux_public_key"]


def _false_complaint(raw: Raw) -> None:
    raw["ceremony"]["complaints"] = [
        {"accuser": 1, "accused": 2, "shared_secret": G.hex(), "proof": "01" * 64}
    ]


# (id, alteration, "parse" and a path, or "check" and a check name)
E = Callable[[Raw], None]
PARSE: list[tuple[str, E, str]] = [
    ("version 1", lambda r: r.update(version=1), "record.version"),
    ("unknown top field", lambda r: r.update(note="x"), "record.note: unknown field"),
    ("unknown ballot field", lambda r: r["ballots"][0].update(x=1), "record.ballots[0].x"),
    ("unknown chain field", lambda r: r["chain"].update(x=1), "record.chain.x"),
    ("tally null", lambda r: r.update(tally=None), "record.tally: missing"),
    ("tally removed", lambda r: r.pop("tally"), "record.tally: missing"),
    ("result 7.9", lambda r: r["tally"]["result"]["mayor"].update(m0=7.9), "result.mayor.m0"),
    ("result true", lambda r: r["tally"]["result"]["mayor"].update(m0=True), "result.mayor.m0"),
    ("result negative", lambda r: r["tally"]["result"]["mayor"].update(m0=-1), "result.mayor.m0"),
    ("unknown candidate", lambda r: r["tally"]["result"]["mayor"].update(m9=0), "mayor.m9"),
    ("unknown contest", lambda r: r["tally"]["result"].update(dog={}), "result.dog"),
    ("missing option", lambda r: r["tally"]["result"]["mayor"].pop("m1"), "mayor.m1: missing"),
    ("quorum 0", lambda r: r["parameters"].update(quorum=0), "record.parameters.quorum"),
    ("quorum > n", lambda r: r["parameters"].update(quorum=6), "record.parameters.quorum"),
    ("trustees text", lambda r: r["parameters"].update(trustees="5"), "parameters.trustees"),
    ("revote flag", lambda r: r["parameters"].update(revote_allowed=True), "record.base_hash"),
    ("revote 1", lambda r: r["parameters"].update(revote_allowed=1), "revote_allowed"),
    ("shares missing", lambda r: r["ceremony"].pop("shares"), "record.ceremony.shares: missing"),
    (
        "ballot hash",
        lambda r: r["ballots"][0].update(ballot_hash=_flip(r["ballots"][0]["ballot_hash"], 3)),
        "record.ballots[0].ballot_hash",
    ),
    (
        "tracking code",
        lambda r: r["ballots"][2].update(
            tracking_code="AAAA-" + r["ballots"][2]["tracking_code"][5:]
        ),
        "record.ballots[2].tracking_code",
    ),
    ("base hash", lambda r: r.update(base_hash=_flip(r["base_hash"], 0)), "record.base_hash"),
    ("election id", lambda r: r.update(election_id=_flip(r["election_id"], 9)), "election_id"),
    ("manifest hash", lambda r: r.update(manifest_hash="00" * 32), "record.manifest_hash"),
    ("manifest field", lambda r: r["manifest"].update(extra=1), "record.manifest: extra"),
    (
        "contest field",
        lambda r: r["manifest"]["contests"][0].update(weight=2),
        "contests[0].weight",
    ),
    ("manifest renamed", lambda r: r["manifest"].update(id="other"), "record.manifest_hash"),
    (
        "checked hash",
        lambda r: r["challenged"][0].update(ballot_hash="11" * 32),
        "record.challenged[0].ballot_hash",
    ),
    ("checked seq", lambda r: r["challenged"][0].pop("seq"), "record.challenged[0].seq: missing"),
    (
        "upper-case hex",
        lambda r: r["ballots"][0].update(
            token_signature=r["ballots"][0]["token_signature"].upper()
        ),
        "record.ballots[0].token_signature",
    ),
    (
        "duplicated ballot",
        lambda r: r["ballots"].insert(1, copy.deepcopy(r["ballots"][0])),
        "record.ballots[1]: out of order",
    ),
    ("ballots reordered", lambda r: r["ballots"].reverse(), "record.ballots[1]: out of order"),
    ("seq 1.0", lambda r: r["ballots"][1].update(seq=1.0), "record.ballots[1].seq"),
    ("count negative", lambda r: r["chain"].update(ballot_count=-1), "chain.ballot_count"),
    ("blocks reversed", lambda r: r["chain"].update(first_block=99), "record.chain.last_block"),
    ("exponent text", lambda r: r["registrar_key"].update(e="65537"), "registrar_key.e"),
    (
        "tally shape",
        lambda r: r["tally"]["encrypted"][0].pop(),
        "record.tally.encrypted[0]: must have 3 entries",
    ),
    (
        "share shape",
        lambda r: r["tally"]["decryption_shares"][0]["shares"].pop(),
        "decryption_shares[0].shares: must have 2 entries",
    ),
    ("identity key", lambda r: r.update(joint_public_key="00" * 33), "record.joint_public_key"),
    ("contract case", lambda r: r["chain"].update(contract="0x" + "4A" * 20), "chain.contract"),
    ("message number", lambda r: r["excluded"][0].update(message=7), "excluded[0].message"),
    (
        "off-curve commitment",
        lambda r: r["ceremony"]["announcements"][0]["commitments"].__setitem__(0, "02" + "ff" * 32),
        "announcements[0].commitments[0]",
    ),
    ("share duplicated", _second_share_entry, "record.ceremony.shares[1]: out of order"),
    ("nonce short", lambda r: r["challenged"][0].update(master_nonce="00" * 31), "master_nonce"),
    # A weak registrar key cannot even be built (blind_rsa.WeakRegistrarKey): refused while parsing,
    # before any hash is recomputed; verify's "registrar key" check stays as a second line.
    ("exponent 3", lambda r: r["registrar_key"].update(e=3), "record.registrar_key"),
    ("exponent 1", lambda r: r["registrar_key"].update(e=1), "record.registrar_key"),
    ("1024-bit key", _weak_modulus_unrebased, "record.registrar_key"),
]


@pytest.mark.parametrize("name, edit, path", PARSE, ids=[p[0] for p in PARSE])
def test_alteration_refused_while_parsing(honest_raw: Raw, name: str, edit: E, path: str) -> None:
    raw = copy.deepcopy(honest_raw)
    edit(raw)
    with pytest.raises(EncodingError) as info:
        record_from_dict(raw)
    assert path in str(info.value), str(info.value)


def _checks(builder_fn: Callable[[Builder], E]) -> Callable[[Builder], E]:
    return builder_fn


CHECKED: list[tuple[str, Callable[[Builder], E], str]] = [
    ("revote flag rebased", lambda b: _revote_rebased, "ballots"),
    ("joint key", lambda b: _other_joint_key, "key ceremony"),
    ("ballot dropped", lambda b: lambda r: r["ballots"].pop(1), "sequence numbers"),
    ("invalid ballot dropped", lambda b: _drop_with_exclusion, "sequence numbers"),
    ("seq rewritten", lambda b: _renumber_after_drop, "sequence numbers"),
    ("count lowered", lambda b: lambda r: r["chain"].update(ballot_count=3), "sequence numbers"),
    ("checked dropped", lambda b: lambda r: r["challenged"].clear(), "sequence numbers"),
    ("checked count", lambda b: lambda r: r["chain"].update(checked_count=2), "sequence numbers"),
    (
        "exclusion hash",
        lambda b: lambda r: r["excluded"][0].update(ballot_hash=r["ballots"][0]["ballot_hash"]),
        "sequence numbers",
    ),
    ("exclusion removed", lambda b: lambda r: r.update(excluded=[]), "ballots"),
    ("exclusion code", lambda b: lambda r: r["excluded"][0].update(code="malformed"), "ballots"),
    (
        "valid ballot excluded",
        lambda b: (
            lambda r: r["excluded"].insert(
                0,
                {
                    "seq": 0,
                    "ballot_hash": r["ballots"][0]["ballot_hash"],
                    "code": "bad_proof",
                    "message": "x",
                },
            )
        ),
        "ballots",
    ),
    (
        "token signature",
        lambda b: (
            lambda r: r["ballots"][1].update(
                token_signature=_flip(r["ballots"][1]["token_signature"], 10)
            )
        ),
        "ballots",
    ),
    (
        "binding signature",
        lambda b: (
            lambda r: r["ballots"][1].update(
                binding_signature=_flip(r["ballots"][1]["binding_signature"], 10)
            )
        ),
        "ballots",
    ),
    (
        "ballot bytes",
        lambda b: (
            lambda r: _set_ballot(
                r, "ballots", 0, bytes.fromhex(_flip(r["ballots"][0]["ballot"], 200))
            )
        ),
        "ballots",
    ),
    (
        "checked nonce",
        lambda b: lambda r: r["challenged"][0].update(master_nonce="00" * 32),
        "checked ballots",
    ),
    ("checked replaced", lambda b: lambda r: _other_nonce_ballot(r, b), "checked ballots"),
    ("checked reopened", lambda b: _swap_options, "checked ballots"),
    ("checked proof", lambda b: _corrupt_checked_proof, "checked ballots"),
    (
        "encrypted tally",
        lambda b: (
            lambda r: r["tally"]["encrypted"][0].__setitem__(0, r["tally"]["encrypted"][0][1])
        ),
        "encrypted tally",
    ),
    ("tally count", lambda b: lambda r: r["tally"].update(ballot_count=5), "encrypted tally"),
    (
        "decryption proof",
        lambda b: (
            lambda r: r["tally"]["decryption_shares"][0]["proofs"][0].__setitem__(
                0, _flip(r["tally"]["decryption_shares"][0]["proofs"][0][0], 40)
            )
        ),
        "decryption shares",
    ),
    (
        "below quorum",
        lambda b: (
            lambda r: r["tally"].update(decryption_shares=r["tally"]["decryption_shares"][:2])
        ),
        "result",
    ),
    (
        "result bumped",
        lambda b: (
            lambda r: r["tally"]["result"]["mayor"].update(
                m0=r["tally"]["result"]["mayor"]["m0"] + 1
            )
        ),
        "result",
    ),
    (
        "result moved",
        lambda b: (
            lambda r: r["tally"]["result"]["mayor"].update(
                m0=r["tally"]["result"]["mayor"]["m0"] - 1,
                m1=r["tally"]["result"]["mayor"]["m1"] + 1,
            )
        ),
        "result",
    ),
    (
        "share removed",
        lambda b: lambda r: r["ceremony"]["shares"].pop(3),
        "ceremony transcript complete",
    ),
    ("same aux key", lambda b: _same_aux_key, "ceremony transcript complete"),
    (
        "aux key swapped",
        lambda b: lambda r: r["ceremony"]["announcements"][3].update(aux_public_key=(G * 7).hex()),
        "key ceremony",
    ),
    (
        "aux key proof dropped",
        lambda b: (
            lambda r: r["ceremony"]["announcements"][0]["proofs"].__setitem__(
                3, r["ceremony"]["announcements"][0]["proofs"][0]
            )
        ),
        "key ceremony",
    ),
    (
        "schnorr proof",
        lambda b: (
            lambda r: r["ceremony"]["announcements"][2]["proofs"].__setitem__(
                0, _flip(r["ceremony"]["announcements"][2]["proofs"][0], 70)
            )
        ),
        "key ceremony",
    ),
    ("false complaint", lambda b: _false_complaint, "key ceremony"),
]


def _verify_failure(raw: Raw) -> InvalidRecord:
    record = record_from_dict(raw)
    with pytest.raises(InvalidRecord) as info:
        verify_record(record)
    return info.value


@pytest.mark.parametrize("name, make, check", CHECKED, ids=[c[0] for c in CHECKED])
def test_alteration_fails_named_check(
    builder: Builder, honest_raw: Raw, name: str, make: Callable[[Builder], E], check: str
) -> None:
    raw = copy.deepcopy(honest_raw)
    make(builder)(raw)
    error = _verify_failure(raw)
    report = error.report
    assert report is not None
    assert check in report.failed(), report.summary()  # type: ignore[attr-defined]


def test_every_check_is_a_line_of_the_doc() -> None:
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "election-record.md").read_text()
    section = doc.split("## What the verifier checks", 1)[1].split("\n## ", 1)[0]
    named = re.findall(r"^\d+\. \*\*(.+?)\*\*", section, flags=re.M)
    assert named == list(CHECKS)
