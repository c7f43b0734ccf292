"""The on-chain publication: the election record without its ballots (format version 1).

When the tally is done the election admin calls ``publishResult(result, transcriptHash)``;
``result`` is this document — the record's every section except ``ballots`` and
``challenged`` (which the chain itself holds), in the record's canonical JSON with
``format`` = ``ippyo/election-publication`` and ``version`` = 1 — and ``transcriptHash`` is
SHA-256 of the whole exported record. A verifier with nothing but the chain joins the two
(:func:`record_from_chain`) and runs :func:`~election.record.verify.verify_record`.

Parsing is as strict as the record's (unknown fields, non-canonical hex, recomputed hashes...)
and additionally demands the canonical bytes: a publication has exactly one encoding.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from election.errors import EncodingError
from election.manifest import canonical_json
from election.record.codec import (
    _no_duplicates,
    _reject_constant,
    record_from_dict,
    record_to_dict,
    too_deep,
)
from election.record.model import FORMAT, RECORD_VERSION, ChallengedBallot, ElectionRecord
from election.validity import CastBallot

PUBLICATION_FORMAT = "ippyo/election-publication"
PUBLICATION_VERSION = 1
ON_CHAIN_SECTIONS = ("ballots", "challenged")
"""The record's sections that the chain holds (events and calldata), not the publication."""


def publication_dict(record: ElectionRecord) -> dict[str, Any]:
    out = record_to_dict(record)
    for key in ON_CHAIN_SECTIONS:
        del out[key]
    out["format"] = PUBLICATION_FORMAT
    out["version"] = PUBLICATION_VERSION
    return out


def publication_bytes(record: ElectionRecord) -> bytes:
    """The canonical publication (no trailing newline): the ``result`` of publishResult."""
    return canonical_json(publication_dict(record))


def _rename(exc: EncodingError) -> EncodingError:
    text = str(exc)
    if text.startswith("record"):
        text = "publication" + text[len("record") :]
    return EncodingError(text)


def publication_from_bytes(data: bytes) -> ElectionRecord:
    """Parse a publication into a record with no ballots and no checked ballots.

    Any input gives a record or an :class:`EncodingError` naming the JSON path at fault.
    """
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EncodingError(f"publication: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    if too_deep(text):
        raise EncodingError("publication: not JSON (nested too deeply)")
    try:
        raw = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except EncodingError as exc:
        raise _rename(exc) from exc
    except json.JSONDecodeError as exc:
        raise EncodingError(f"publication: not JSON ({exc.msg} at line {exc.lineno})") from exc
    except (RecursionError, ValueError) as exc:
        raise EncodingError(f"publication: not JSON ({type(exc).__name__})") from exc
    if not isinstance(raw, dict):
        raise EncodingError("publication: must be an object")
    if raw.get("format") != PUBLICATION_FORMAT:
        raise EncodingError(f"publication.format: must be {PUBLICATION_FORMAT!r}")
    if raw.get("version") != PUBLICATION_VERSION or isinstance(raw.get("version"), bool):
        raise EncodingError(
            f"publication.version: this verifier reads version {PUBLICATION_VERSION}"
        )
    for key in ON_CHAIN_SECTIONS:
        if key in raw:
            raise EncodingError(f"publication.{key}: unknown field (the chain holds it)")
    as_record = {**raw, "format": FORMAT, "version": RECORD_VERSION}
    for key in ON_CHAIN_SECTIONS:
        as_record[key] = []
    try:
        record = record_from_dict(as_record)
    except EncodingError as exc:
        raise _rename(exc) from exc
    if publication_bytes(record) != bytes(data):
        raise EncodingError(
            "publication: not in canonical form (sorted keys, no spaces, UTF-8, no trailing "
            "newline)"
        )
    return record


def record_from_chain(
    publication: ElectionRecord,
    ballots: Sequence[CastBallot],
    challenged: Sequence[ChallengedBallot],
) -> ElectionRecord:
    """The full record: the publication's sections with the chain's ballots, in seq order."""
    return replace(
        publication,
        ballots=tuple(sorted(ballots, key=lambda b: b.seq)),
        challenged=tuple(sorted(challenged, key=lambda c: c.seq)),
    )
