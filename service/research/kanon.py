"""k-anonymity over the released quasi-identifiers: generalise, then suppress, or refuse.

Pure: plain data in, a decision out; no database, no clock. The ladder goes from the
most informative release to the least: 5-year age bands (90+ top-coded) and enrolment
quarters first, then 10-year bands, then enrolment years, then 20-year bands (80+),
then no enrolment period. The first rung at which the patients in classes smaller than
k are few enough to suppress (at most the study's share) is taken, and they are
suppressed. If no rung gets there, the export fails and releases nothing.

Region is the county (fylke): the first two digits of the four-digit kommunenummer.
Counties were merged in 2020 and partly split again in 2024; a municipality's number
carries the county of its own numbering, which is what is released.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

QUASI_IDENTIFIERS = ("age_band", "sex", "region", "protocol", "enrolment_period")


@dataclass(frozen=True)
class Subject:
    id: str
    age: int
    sex: str
    municipality: str
    protocol: str | None
    enrolled: date


@dataclass(frozen=True)
class Level:
    name: str
    age_width: int
    age_top: int
    period: str  # "quarter", "year" or "none"


LADDER: tuple[Level, ...] = (
    Level("5-year bands, enrolment quarter", 5, 90, "quarter"),
    Level("10-year bands, enrolment quarter", 10, 90, "quarter"),
    Level("10-year bands, enrolment year", 10, 90, "year"),
    Level("20-year bands (80+), enrolment year", 20, 80, "year"),
    Level("20-year bands (80+), no enrolment period", 20, 80, "none"),
)


class AnonymityNotReached(Exception):
    """No rung of the ladder reaches k within the allowed suppression. The message
    holds counts and settings only."""


@dataclass(frozen=True)
class Trial:
    level: str
    classes: int
    smallest_class: int | None
    would_suppress: int


@dataclass(frozen=True)
class Release:
    level: Level
    quasi_identifiers: tuple[str, ...]
    k: int
    values: dict[str, dict[str, str | None]]
    suppressed: tuple[str, ...]
    smallest_class: int | None
    classes: int
    trials: tuple[Trial, ...] = field(default=())


def age_band(age: int, width: int, top: int) -> str:
    if age >= top:
        return f"{top}+"
    low = age // width * width
    return f"{low}-{low + width - 1}"


def region_of(municipality: str) -> str:
    return municipality[:2]


def enrolment_period(enrolled: date, period: str) -> str | None:
    if period == "quarter":
        return f"{enrolled.year}-Q{(enrolled.month - 1) // 3 + 1}"
    if period == "year":
        return str(enrolled.year)
    return None


def age_at(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def generalise(subject: Subject, level: Level) -> dict[str, str | None]:
    return {
        "age_band": age_band(subject.age, level.age_width, level.age_top),
        "sex": subject.sex,
        "region": region_of(subject.municipality),
        "protocol": subject.protocol,
        "enrolment_period": enrolment_period(subject.enrolled, level.period),
    }


def class_key(values: dict[str, str | None], qi: Sequence[str]) -> tuple[str | None, ...]:
    return tuple(values[name] for name in qi)


def anonymise(
    subjects: Sequence[Subject], qi: Sequence[str], k: int, max_suppressed_share: float
) -> Release:
    """The least generalised release in which every class has at least ``k`` patients."""
    qi = tuple(name for name in QUASI_IDENTIFIERS if name in qi)
    trials: list[Trial] = []
    for level in LADDER:
        values = {s.id: generalise(s, level) for s in subjects}
        sizes = Counter(class_key(v, qi) for v in values.values())
        small = [i for i, v in values.items() if sizes[class_key(v, qi)] < k]
        kept = [size for size in sizes.values() if size >= k]
        trials.append(Trial(level.name, len(sizes), min(sizes.values(), default=None), len(small)))
        if len(small) <= max_suppressed_share * len(subjects):
            dropped = set(small)
            return Release(
                level=level,
                quasi_identifiers=qi,
                k=k,
                values={i: v for i, v in values.items() if i not in dropped},
                suppressed=tuple(sorted(dropped)),
                smallest_class=min(kept, default=None),
                classes=len(kept),
                trials=tuple(trials),
            )
    least = min(t.would_suppress for t in trials)
    raise AnonymityNotReached(
        f"k={k} cannot be reached: the least suppression needed is {least} of "
        f"{len(subjects)} patients, above the study's maximum share of "
        f"{max_suppressed_share:.0%}; nothing was released"
    )
