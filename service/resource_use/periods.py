"""Time arithmetic of the evaluation, pure: periods, a patient's status spans, overlaps
and schedule slots. No database and no clock: "now" is an argument."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Period:
    """``[start, end)`` in UTC. ``end`` is never after "now": days still to come are
    not follow-up days yet."""

    first: date
    last: date
    start: datetime
    end: datetime

    @property
    def days(self) -> float:
        return max(0.0, (self.end - self.start) / DAY)


def local_period(first: date, last: date, zone: ZoneInfo, now: datetime) -> Period:
    """The local calendar days ``first`` to ``last``, both included (midnight to
    midnight in the centre's time zone, so a daylight-saving day has 23 or 25 hours).
    In UTC: Python subtracts two times of one zone as wall-clock times."""
    start = datetime.combine(first, time(0), zone).astimezone(UTC)
    end = datetime.combine(last + DAY, time(0), zone).astimezone(UTC)
    return Period(first, last, start, max(start, min(end, now)))


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of follow-up in one status: ``active`` or ``paused``."""

    start: datetime
    end: datetime
    status: str


def status_spans(
    enrolled_at: datetime, changes: Iterable[tuple[datetime, str]], until: datetime
) -> list[Span]:
    """A patient's follow-up from enrolment to ``until``: active from enrolment, then
    each recorded change sets the status from its moment on; after ``ended`` nothing
    counts. Changes before enrolment count from enrolment."""
    spans: list[Span] = []
    status, since = "active", enrolled_at
    for moment, new_status in sorted(changes):
        moment = max(moment, enrolled_at)
        if moment >= until:
            break
        if new_status != status:
            spans.append(Span(since, moment, status))
            status, since = new_status, moment
    spans.append(Span(since, max(since, until), status))
    return [s for s in spans if s.status != "ended" and s.end > s.start]


def overlap(start: datetime, end: datetime, lower: datetime, upper: datetime) -> float:
    """Days that ``[start, end)`` and ``[lower, upper)`` share."""
    return max(0.0, (min(end, upper) - max(start, lower)) / DAY)


def clip(spans: Sequence[Span], lower: datetime, upper: datetime) -> list[Span]:
    clipped = [Span(max(s.start, lower), min(s.end, upper), s.status) for s in spans]
    return [s for s in clipped if s.end > s.start]


def filled_slots(
    start: datetime, end: datetime, every: timedelta, times: Sequence[datetime]
) -> tuple[int, int]:
    """Expected and received readings of one schedule in ``[start, end)``.

    The span is cut into whole schedule periods from its start (a daily measurement in
    a 10-day span: 10 slots; a part period at the end expects nothing). A slot counts
    as received when it holds at least one reading: two readings on one day do not
    make up for a missing day.
    """
    slots = int((end - start) // every)
    if slots <= 0:
        return 0, 0
    filled = {int((t - start) // every) for t in times if start <= t < end}
    return slots, len({slot for slot in filled if slot < slots})


def nearest_rank(values: Sequence[float], fraction: float) -> float | None:
    """The ``fraction`` quantile by nearest rank: an observed value, never one between
    two, so a 90th percentile of ten items is the ninth slowest."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(round(fraction * len(ordered), 9)))
    return ordered[rank - 1]
