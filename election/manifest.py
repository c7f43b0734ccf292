"""The election manifest: what is on the ballot.

A manifest names the election (ja + en), its day, the municipality, and its contests. Each
contest has options (names in ja and en) and a selection range [min, max]: single choice is
[1, 1], "choose up to 3 of 13" is [0, 3], approval is [0, n]. Validation is strict and every
error names the field (``contests[1].options[2].name_ja: must not be empty``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from election.errors import ManifestError
from election.primitives.hashing import hash_bytes

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_OPTIONS = 64


@dataclass(frozen=True, slots=True)
class Option:
    id: str
    name_ja: str
    name_en: str


@dataclass(frozen=True, slots=True)
class Contest:
    id: str
    title_ja: str
    title_en: str
    options: tuple[Option, ...]
    min_selections: int
    max_selections: int

    @property
    def range_branches(self) -> int:
        return self.max_selections - self.min_selections + 1


@dataclass(frozen=True, slots=True)
class Manifest:
    election_id_label: str
    """A human label unique to the election (e.g. ``tsukuba-2026-mayor``)."""
    name_ja: str
    name_en: str
    election_date: dt.date
    """Election day: the registrar computes voters' ages on this day."""
    municipality_ja: str
    municipality_en: str
    contests: tuple[Contest, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.election_id_label,
            "name": {"ja": self.name_ja, "en": self.name_en},
            "date": self.election_date.isoformat(),
            "municipality": {"ja": self.municipality_ja, "en": self.municipality_en},
            "contests": [
                {
                    "id": c.id,
                    "title": {"ja": c.title_ja, "en": c.title_en},
                    "min": c.min_selections,
                    "max": c.max_selections,
                    "options": [
                        {"id": o.id, "name": {"ja": o.name_ja, "en": o.name_en}} for o in c.options
                    ],
                }
                for c in self.contests
            ],
        }

    def canonical_bytes(self) -> bytes:
        return canonical_json(self.to_dict())

    @property
    def election_id(self) -> bytes:
        """32-byte election id: the hash of the canonical manifest."""
        return hash_bytes("ippyo/election-id", self.canonical_bytes())

    @property
    def option_count(self) -> int:
        return sum(len(c.options) for c in self.contests)


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 (not ASCII-escaped)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# --- parsing and validation -------------------------------------------------------------------
def _require(data: Mapping[str, Any], key: str, path: str) -> Any:
    if not isinstance(data, Mapping):
        raise ManifestError(f"{path}: must be an object")
    if key not in data:
        raise ManifestError(f"{path}.{key}: missing" if path else f"{key}: missing")
    return data[key]


def _known(data: Mapping[str, Any], keys: set[str], path: str) -> None:
    """Refuse fields this version does not define (a dropped field would change nothing)."""
    unknown = sorted(str(k) for k in set(data) - keys)
    if unknown:
        where = f"{path}.{unknown[0]}" if path else unknown[0]
        raise ManifestError(f"{where}: unknown field")


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise ManifestError(f"{path}: must be text")
    if not value.strip():
        raise ManifestError(f"{path}: must not be empty")
    if len(value) > 200:
        raise ManifestError(f"{path}: longer than 200 characters")
    return value


def _names(data: Mapping[str, Any], key: str, path: str) -> tuple[str, str]:
    names = _require(data, key, path)
    where = f"{path}.{key}" if path else key
    if not isinstance(names, Mapping):
        raise ManifestError(f"{where}: must be an object with 'ja' and 'en'")
    _known(names, {"ja", "en"}, where)
    return (
        _text(_require(names, "ja", where), f"{where}.ja"),
        _text(_require(names, "en", where), f"{where}.en"),
    )


def _ident(value: Any, path: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise ManifestError(f"{path}: must be 1–64 characters of a–z, 0–9, '_' or '-'")
    return value


def _int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ManifestError(f"{path}: must be a whole number")
    return value


def manifest_from_dict(data: Mapping[str, Any]) -> Manifest:
    """Parse and validate a manifest; raises :class:`ManifestError` naming the bad field."""
    if not isinstance(data, Mapping):
        raise ManifestError("manifest: must be an object")
    _known(data, {"id", "name", "municipality", "date", "contests"}, "")
    label = _ident(_require(data, "id", ""), "id")
    name_ja, name_en = _names(data, "name", "")
    muni_ja, muni_en = _names(data, "municipality", "")
    date_text = _require(data, "date", "")
    try:
        date = dt.date.fromisoformat(date_text) if isinstance(date_text, str) else None
    except ValueError:
        date = None
    if date is None:
        raise ManifestError("date: must be an ISO date like 2026-12-06")
    raw_contests = _require(data, "contests", "")
    if not isinstance(raw_contests, list) or not raw_contests:
        raise ManifestError("contests: must be a non-empty list")
    contests: list[Contest] = []
    seen_contests: set[str] = set()
    for i, raw in enumerate(raw_contests):
        path = f"contests[{i}]"
        if isinstance(raw, Mapping):
            _known(raw, {"id", "title", "min", "max", "options"}, path)
        cid = _ident(_require(raw, "id", path), f"{path}.id")
        if cid in seen_contests:
            raise ManifestError(f"{path}.id: '{cid}' is used twice")
        seen_contests.add(cid)
        title_ja, title_en = _names(raw, "title", path)
        raw_options = _require(raw, "options", path)
        if not isinstance(raw_options, list) or not raw_options:
            raise ManifestError(f"{path}.options: must be a non-empty list")
        if len(raw_options) > MAX_OPTIONS:
            raise ManifestError(f"{path}.options: more than {MAX_OPTIONS} options")
        options: list[Option] = []
        seen_options: set[str] = set()
        for j, raw_option in enumerate(raw_options):
            opath = f"{path}.options[{j}]"
            if isinstance(raw_option, Mapping):
                _known(raw_option, {"id", "name"}, opath)
            oid = _ident(_require(raw_option, "id", opath), f"{opath}.id")
            if oid in seen_options:
                raise ManifestError(f"{opath}.id: '{oid}' is used twice in this contest")
            seen_options.add(oid)
            ja, en = _names(raw_option, "name", opath)
            options.append(Option(oid, ja, en))
        lo = _int(_require(raw, "min", path), f"{path}.min")
        hi = _int(_require(raw, "max", path), f"{path}.max")
        if lo < 0:
            raise ManifestError(f"{path}.min: must be 0 or more")
        if hi < 1:
            raise ManifestError(f"{path}.max: must be 1 or more")
        if lo > hi:
            raise ManifestError(f"{path}: min ({lo}) is greater than max ({hi})")
        if hi > len(options):
            raise ManifestError(f"{path}.max: {hi} is more than the {len(options)} options")
        contests.append(Contest(cid, title_ja, title_en, tuple(options), lo, hi))
    return Manifest(label, name_ja, name_en, date, muni_ja, muni_en, tuple(contests))
