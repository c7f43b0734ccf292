"""The demo election's scenario: frozen data, no services, no I/O.

Who comes to the kiosk, in what order, what each person chooses and how each behaves — a
voter who votes normally, one who checks a ballot first (Benaloh challenge), mistypes the
password, locks the card, a kiosk that crashes in the middle of a vote, a broken kiosk that
corrupts a proof, a voter who comes back to vote twice, and four people the registrar must
refuse (under age, another municipality, a revoked certificate, not on the roll).

:func:`build_scenario` makes the same scenario for the same seed; :func:`expected_result` is
what the verified result must be — the runner (:mod:`ippyo.demo_run`) never reads it, the
end-to-end test compares the two.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources

from election.ballot import PlaintextBallot
from election.manifest import Manifest, manifest_from_dict

PIN = "ABC123"
"""Every demo card's signature password (a TEST card's default)."""
WRONG_PIN = "XYZ999"
PIN_TRIES = 5
"""A JPKI signature password locks after five wrong tries."""


class Behaviour(enum.Enum):
    NORMAL = "normal"
    CHECKS = "checks"
    """Encrypts a ballot and checks it (it is opened in public and never counts), then votes."""
    MISTYPES = "mistypes"
    """Types a wrong password once (the kiosk shows the tries left), then the right one."""
    LOCKS = "locks"
    """Types a wrong password until the card locks; sent to the help desk, does not vote."""
    KIOSK_CRASH = "kiosk_crash"
    """The kiosk process dies right after writing the signed ballot to its outbox; restarted,
    it sends the ballot once and tells the voter, who tries again, that they have voted."""
    CORRUPT_PROOF = "corrupt_proof"
    """A broken kiosk corrupts a proof: the ballot reaches the chain and is excluded."""
    DOUBLE_VOTE = "double_vote"
    """Votes, then comes back with the same card: the kiosk says "you have already voted"."""
    UNDER_AGE = "under_age"
    OTHER_MUNICIPALITY = "other_municipality"
    REVOKED = "revoked"
    """The certificate was revoked (a card reported lost): the CRL lists it."""
    NOT_ON_ROLL = "not_on_roll"
    """Lives in the city but is not on the electoral roll (moved in after the roll closed)."""


INELIGIBLE = {
    Behaviour.UNDER_AGE: "under_age",
    Behaviour.OTHER_MUNICIPALITY: "other_municipality",
    Behaviour.REVOKED: "certificate_revoked",
    Behaviour.NOT_ON_ROLL: "not_on_roll",
}
"""Each ineligible behaviour and the registrar's refusal code for it."""

COUNTED = {
    Behaviour.NORMAL,
    Behaviour.CHECKS,
    Behaviour.MISTYPES,
    Behaviour.KIOSK_CRASH,
    Behaviour.DOUBLE_VOTE,
}
"""Behaviours whose (one) ballot is counted."""

SPECIAL = (
    Behaviour.MISTYPES,
    Behaviour.LOCKS,
    Behaviour.KIOSK_CRASH,
    Behaviour.CORRUPT_PROOF,
    Behaviour.DOUBLE_VOTE,
    *INELIGIBLE,
)
MIN_VOTERS = len(SPECIAL) + 2
MAX_VOTERS = 10_000


@dataclass(frozen=True)
class Voter:
    number: int
    name: str
    gender: str
    born: dt.date
    address: str
    behaviour: Behaviour
    choices: Mapping[str, tuple[str, ...]]
    checked_choices: Mapping[str, tuple[str, ...]] | None = None
    """What a voter who checks a ballot puts on the ballot they check."""

    @property
    def on_roll(self) -> bool:
        return self.behaviour not in (
            Behaviour.NOT_ON_ROLL,
            Behaviour.OTHER_MUNICIPALITY,
            Behaviour.UNDER_AGE,
        )


@dataclass(frozen=True)
class Scenario:
    manifest: Manifest
    voters: tuple[Voter, ...]
    trustees: int = 3
    quorum: int = 2
    absent_trustees: tuple[int, ...] = (3,)
    """Trustees who do not come on decryption day (the quorum still decrypts)."""
    seed: int = 2018
    municipality: str = "茨城県つくば市"
    extra: Mapping[str, str] = field(default_factory=dict)

    def by_behaviour(self, behaviour: Behaviour) -> list[Voter]:
        return [v for v in self.voters if v.behaviour is behaviour]


def load_demo_manifest() -> Manifest:
    text = resources.files("ippyo").joinpath("data/demo-manifest.json").read_text("utf-8")
    return manifest_from_dict(json.loads(text))


_SURNAMES = (
    "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤",
    "吉田", "山田", "佐々木", "山口", "松本", "井上", "木村", "林", "斎藤", "清水",
    "山崎", "森", "池田", "橋本", "阿部", "石川", "山下", "中島", "石井", "小川",
)  # fmt: skip
_GIVEN = {
    "female": ("花子", "美咲", "陽菜", "結衣", "さくら", "葵", "恵子", "由美", "千尋", "智子",
               "明美", "彩", "真由美", "京子", "愛"),
    "male": ("一郎", "健", "大輔", "翔太", "蓮", "悠真", "誠", "浩", "拓也", "隆",
             "直樹", "修", "和也", "茂", "湊"),
}  # fmt: skip
_DISTRICTS = (
    "研究学園", "竹園", "吾妻", "天久保", "春日", "並木", "松代", "桜", "筑穂", "東新井",
    "学園南", "梅園", "千現", "二の宮", "小野崎",
)  # fmt: skip
_KANJI_NUMBERS = "一二三四五"
_MAYOR_WEIGHTS = {"sato": 30, "suzuki": 25, "takahashi": 20, "tanaka": 15, "ito": 10}


def build_scenario(voters: int = 50, seed: int = 2018) -> Scenario:
    """``voters`` people in the line at the kiosk; the special behaviours each once, about one
    voter in eight checks a ballot first, the rest vote normally."""
    if not MIN_VOTERS <= voters <= MAX_VOTERS:
        raise ValueError(
            f"the scenario needs at least {MIN_VOTERS} and at most {MAX_VOTERS} voters"
        )
    manifest = load_demo_manifest()
    rng = random.Random(seed)
    behaviours = [Behaviour.NORMAL] * voters
    slots = rng.sample(range(1, voters), len(SPECIAL) + max(1, voters // 8))
    for slot, behaviour in zip(slots, [*SPECIAL, *[Behaviour.CHECKS] * voters], strict=False):
        behaviours[slot] = behaviour
    election_day = manifest.election_date
    people: list[Voter] = []
    persons: set[tuple[str, dt.date, str]] = set()
    for number, behaviour in enumerate(behaviours, start=1):
        gender = ("female", "male")[rng.randrange(2)]
        while True:  # the registrar knows a person by name, birthday and gender: one each
            name = f"{rng.choice(_SURNAMES)} {rng.choice(_GIVEN[gender])}"
            if behaviour is Behaviour.UNDER_AGE:  # 17 on election day
                born = election_day.replace(year=election_day.year - 17) - dt.timedelta(
                    days=rng.randint(1, 300)
                )
            else:
                born = dt.date(rng.randint(1940, 2006), rng.randint(1, 12), rng.randint(1, 28))
            if (name, born, gender) not in persons:
                persons.add((name, born, gender))
                break
        district = rng.choice(_DISTRICTS)
        block = _KANJI_NUMBERS[rng.randrange(len(_KANJI_NUMBERS))]
        address = f"茨城県つくば市{district}{block}丁目{rng.randint(1, 30)}番地{rng.randint(1, 9)}"
        if behaviour is Behaviour.OTHER_MUNICIPALITY:
            address = f"茨城県土浦市大和町{rng.randint(1, 9)}番{rng.randint(1, 20)}号"
        people.append(
            Voter(
                number,
                name,
                gender,
                born,
                address,
                behaviour,
                _choices(manifest, rng),
                _choices(manifest, rng) if behaviour is Behaviour.CHECKS else None,
            )
        )
    return Scenario(manifest, tuple(people), seed=seed)


def _choices(manifest: Manifest, rng: random.Random) -> dict[str, tuple[str, ...]]:
    mayor = rng.choices(list(_MAYOR_WEIGHTS), weights=list(_MAYOR_WEIGHTS.values()))[0]
    projects = [o.id for o in manifest.contests[1].options]
    picked = rng.sample(projects, rng.randint(0, 3))
    return {"mayor": (mayor,), "projects": tuple(sorted(picked, key=projects.index))}


def expected_result(scenario: Scenario) -> tuple[tuple[int, ...], ...]:
    """The counts the verified result must show: every counted voter's one ballot."""
    manifest = scenario.manifest
    counts = [[0] * len(c.options) for c in manifest.contests]
    for voter in scenario.voters:
        if voter.behaviour not in COUNTED:
            continue
        plain = PlaintextBallot.from_choices(manifest, voter.choices)
        for ci, row in enumerate(plain.selections):
            for oi, mark in enumerate(row):
                counts[ci][oi] += mark
    return tuple(tuple(row) for row in counts)
