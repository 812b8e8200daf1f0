"""k-anonymity over the released quasi-identifiers: generalise, then suppress, or refuse.

Pure: plain data in, a decision out; no database, no clock. Every patient attribute a
study releases is a quasi-identifier (``QUASI_IDENTIFIERS``: age band, sex, region,
protocol, enrolment period, the shifted enrolment time, follow-up status) unless the
study's reviewer declared it non-identifying in writing; the caller passes the ones
that count. The ladder goes from the most informative release to the least: the
enrolment time kept (only tried when it counts: a moment to the hour nearly always
stands alone), then withheld, with 5-year age bands (90+ top-coded) and enrolment
quarters, then 10-year bands, then enrolment years, then 20-year bands (80+), then no
enrolment period. Sex, region, protocol and status are released as they are on every
rung. The first rung at which the patients in classes smaller than k are few enough to
suppress (at most the study's share) is taken, and they are suppressed. If no rung gets
there, the export fails and releases nothing.

Region is the county (fylke): the first two digits of the four-digit kommunenummer.
Counties were merged in 2020 and partly split again in 2024; a municipality's number
carries the county of its own numbering, which is what is released.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

# Every patient attribute an export can write, in the patients table's order.
QUASI_IDENTIFIERS = (
    "age_band",
    "sex",
    "region",
    "protocol",
    "enrolment_period",
    "enrolled_at",
    "status",
)


@dataclass(frozen=True)
class Subject:
    id: str
    age: int
    sex: str
    municipality: str
    protocol: str | None
    enrolled: date
    # The shifted enrolment time as written, and the follow-up status: released as
    # they are (None: not known to the caller).
    enrolled_at: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class Level:
    name: str
    age_width: int
    age_top: int
    period: str  # "quarter", "year" or "none"
    # Whether the shifted enrolment time is written, when it counts as a quasi-identifier.
    enrolment_time: bool = False


LADDER: tuple[Level, ...] = (
    Level("5-year bands, enrolment quarter and time", 5, 90, "quarter", enrolment_time=True),
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


def generalise(
    subject: Subject, level: Level, qi: Sequence[str] = QUASI_IDENTIFIERS
) -> dict[str, str | None]:
    """The subject's attributes at ``level``. The enrolment time is withheld (None) on
    the rungs that withhold it only if it counts (is in ``qi``): a reviewer who declared
    it non-identifying releases it on every rung."""
    withheld = "enrolled_at" in qi and not level.enrolment_time
    return {
        "age_band": age_band(subject.age, level.age_width, level.age_top),
        "sex": subject.sex,
        "region": region_of(subject.municipality),
        "protocol": subject.protocol,
        "enrolment_period": enrolment_period(subject.enrolled, level.period),
        "enrolled_at": None if withheld else subject.enrolled_at,
        "status": subject.status,
    }


def ladder_for(qi: Sequence[str]) -> tuple[Level, ...]:
    """The rungs worth trying: the one that keeps the enrolment time only when the
    time counts (otherwise it is the next rung over again)."""
    return LADDER if "enrolled_at" in qi else tuple(lv for lv in LADDER if not lv.enrolment_time)


def class_key(values: dict[str, str | None], qi: Sequence[str]) -> tuple[str | None, ...]:
    return tuple(values[name] for name in qi)


def level_named(name: str | None) -> Level | None:
    return next((level for level in LADDER if level.name == name), None)


def anonymise(
    subjects: Sequence[Subject], qi: Sequence[str], k: int, max_suppressed_share: float
) -> Release:
    """The least generalised release in which every class has at least ``k`` patients."""
    qi = tuple(name for name in QUASI_IDENTIFIERS if name in qi)
    trials: list[Trial] = []
    for level in ladder_for(qi):
        values = {s.id: generalise(s, level, qi) for s in subjects}
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


def smallest_joined_class(
    released: Mapping[str, tuple[str | None, ...]],
    others: Sequence[Mapping[str, tuple[str | None, ...]]],
) -> tuple[int, int] | None:
    """Two releases to the same researchers can be joined patient by patient (through
    their readings, whatever the pseudonyms): the smallest class over the joined
    quasi-identifiers of the patients that are in ``released`` and in another release,
    and how many such patients there are; None if there are none.

    ``released`` and each of ``others`` map a patient to the values of their release's
    quasi-identifiers; a patient missing from another release has no values there."""
    joined = [p for p in released if any(p in other for other in others)]
    if not joined:
        return None
    sizes = Counter((released[p], *(other.get(p) for other in others)) for p in joined)
    return min(sizes.values()), len(joined)
