"""The on-chain publication (docs/verify.md): the record without its ballots, canonical,
parsed as strictly as the record; joined with the chain's ballots it is the record again."""

from __future__ import annotations

import dataclasses
import json

import pytest

from election.errors import EncodingError
from election.manifest import Manifest, canonical_json
from election.primitives import blind_rsa
from election.record import (
    ElectionRecord,
    publication_bytes,
    publication_from_bytes,
    record_from_chain,
    verify_record_ballots,
    verify_record_sections,
)
from tests.election.record_helpers import honest_builder


@pytest.fixture(scope="module")
def record(manifest: Manifest, registrar_key: blind_rsa.RSAPrivateKey) -> ElectionRecord:
    return honest_builder(manifest, registrar_key).record()


def test_round_trip_and_join(record: ElectionRecord) -> None:
    data = publication_bytes(record)
    raw = json.loads(data)
    assert raw["format"] == "ippyo/election-publication" and raw["version"] == 1
    assert "ballots" not in raw and "challenged" not in raw
    assert not data.endswith(b"\n")
    published = publication_from_bytes(data)
    assert published.ballots == () and published.challenged == ()
    joined = record_from_chain(published, record.ballots[::-1], record.challenged)
    assert joined.to_json() == record.to_json()


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda raw: raw.update(format="ippyo/election-record"), "publication.format"),
        (lambda raw: raw.update(version=2), "publication.version"),
        (lambda raw: raw.update(ballots=[]), "publication.ballots: unknown field"),
        (lambda raw: raw.update(extra=1), "publication.extra: unknown field"),
        (lambda raw: raw.pop("tally"), "publication.tally: missing"),
        (lambda raw: raw.update(base_hash="00" * 32), "publication.base_hash: does not match"),
        (
            lambda raw: raw["tally"]["result"]["mayor"].update(m0=True),
            "publication.tally.result.mayor.m0: must be a JSON integer",
        ),
    ],
)
def test_strict_parsing_names_the_path(
    record: ElectionRecord, change: object, message: str
) -> None:
    raw = json.loads(publication_bytes(record))
    change(raw)  # type: ignore[operator]
    with pytest.raises(EncodingError, match=message.replace(".", r"\.")):
        publication_from_bytes(canonical_json(raw))


def test_only_the_canonical_bytes_are_accepted(record: ElectionRecord) -> None:
    data = publication_bytes(record)
    for other in (data + b"\n", json.dumps(json.loads(data), indent=1).encode()):
        with pytest.raises(EncodingError, match="not in canonical form"):
            publication_from_bytes(other)
    for junk in (b"", b"\xff", b"[]", b'{"a":1,"a":2}', b"NaN"):
        with pytest.raises(EncodingError, match=r"^publication"):
            publication_from_bytes(junk)


def test_record_ballots_compares_tokens_signatures_and_nonces(record: ElectionRecord) -> None:
    chain_ballots, checked = list(record.ballots), list(record.challenged)
    n, c = len(chain_ballots), len(checked)
    assert verify_record_ballots(record, n, c, chain_ballots, checked).ok
    other_sig = dataclasses.replace(chain_ballots[0], token_signature=b"\x01" * 256)
    changed = dataclasses.replace(record, ballots=(other_sig, *record.ballots[1:]))
    check = verify_record_ballots(changed, n, c, chain_ballots, checked)
    assert check.failures == ["ballot #0: its token or signatures differ from the chain's"]
    other_nonce = dataclasses.replace(checked[0], master_nonce=b"\x02" * 32)
    changed = dataclasses.replace(record, challenged=(other_nonce, *record.challenged[1:]))
    check = verify_record_ballots(changed, n, c, chain_ballots, checked)
    assert check.failures == ["checked ballot #0: its master nonce differs from the chain's"]
    check = verify_record_ballots(record, n + 1, c, chain_ballots, checked)
    assert "the chain holds" in check.failures[0]


def test_record_sections_names_the_section(record: ElectionRecord) -> None:
    published = publication_from_bytes(publication_bytes(record))
    assert verify_record_sections(record, published).ok
    moved = dataclasses.replace(record, revote_allowed=True)
    assert verify_record_sections(moved, published).failures[:1] == [
        "'base_hash' differs from the publication on chain"
    ]


def test_deep_nesting_is_refused_before_parsing() -> None:
    """Even at py-evm's recursion limit (100 000), where json.loads would crash the process."""
    import sys

    from election.record import record_from_json

    deep = b"[" * 200_000 + b"]" * 200_000
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 100_000))
    try:
        for parse in (publication_from_bytes, record_from_json):
            with pytest.raises(EncodingError, match="nested too deeply"):
                parse(deep)
        # strings may hold brackets: they are not nesting
        with pytest.raises(EncodingError, match="must be an object"):
            publication_from_bytes(json.dumps(["[" * 100]).encode())
    finally:
        sys.setrecursionlimit(old)
