"""Manifest validation names the field that is wrong."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from election.errors import ManifestError
from election.manifest import manifest_from_dict

from .conftest import small_manifest


def _base() -> dict[str, Any]:
    return small_manifest().to_dict()


def test_round_trip_and_election_id() -> None:
    m = small_manifest()
    assert manifest_from_dict(m.to_dict()) == m
    assert len(m.election_id) == 32
    changed = _base()
    changed["contests"][0]["options"][0]["name"]["ja"] = "別の名前"
    assert manifest_from_dict(changed).election_id != m.election_id


CASES = [
    (lambda d: d.pop("id"), "id: missing"),
    (lambda d: d.__setitem__("id", "Bad Id"), "id: must be"),
    (lambda d: d.__setitem__("date", "2026-13-01"), "date: must be an ISO date"),
    (lambda d: d["name"].__setitem__("ja", " "), "name.ja: must not be empty"),
    (lambda d: d.__setitem__("contests", []), "contests: must be a non-empty list"),
    (
        lambda d: d["contests"][1].__setitem__("id", "mayor"),
        "contests[1].id: 'mayor' is used twice",
    ),
    (lambda d: d["contests"][0]["options"][2].__setitem__("id", "m0"), "contests[0].options[2].id"),
    (
        lambda d: d["contests"][0]["options"][1]["name"].pop("en"),
        "contests[0].options[1].name.en: missing",
    ),
    (lambda d: d["contests"][0].__setitem__("min", 2), "min (2) is greater than max (1)"),
    (lambda d: d["contests"][1].__setitem__("max", 5), "5 is more than the 4 options"),
    (lambda d: d["contests"][1].__setitem__("max", True), "max: must be a whole number"),
    (lambda d: d["contests"][1].__setitem__("min", -1), "min: must be 0 or more"),
]


@pytest.mark.parametrize("edit, reason", CASES)
def test_invalid_manifests(edit: Any, reason: str) -> None:
    data = copy.deepcopy(_base())
    edit(data)
    with pytest.raises(
        ManifestError,
        match=reason.replace("[", r"\[")
        .replace("]", r"\]")
        .replace("(", r"\(")
        .replace(")", r"\)"),
    ):
        manifest_from_dict(data)
