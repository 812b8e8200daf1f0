"""The patient's readings as time series: deduplicated, ordered by when they were taken.

Ordering is by effective_at, never by arrival: a reading that comes in late must land where it
belongs, or the rule of three and the trends would judge the wrong neighbours.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date

from alerts.model import Reading


def deduplicate(readings: Iterable[Reading]) -> list[Reading]:
    """One reading per (reading_id, measurement), and one per exact copy.

    An exact copy is the same measurement, effective_at and value under another reading_id:
    several uploaders or a backfill sending the same measurement again. The copy received
    first wins, so a copy arriving now is not judged a second time. Two readings a minute
    apart are real repeats and both count.
    """
    ordered = sorted(readings, key=lambda r: (r.received_at, r.reading_id, r.measurement))
    kept: list[Reading] = []
    keys: set[tuple[str, str]] = set()
    copies: set[tuple[str, object, float]] = set()
    for reading in ordered:
        copy = (reading.measurement, reading.effective_at, reading.value)
        if reading.key in keys or copy in copies:
            continue
        keys.add(reading.key)
        copies.add(copy)
        kept.append(reading)
    return kept


def series(readings: Iterable[Reading], measurement: str) -> list[Reading]:
    same = (r for r in readings if r.measurement == measurement)
    return sorted(same, key=lambda r: (r.effective_at, r.received_at, r.reading_id))


def one_per_day(ordered: Sequence[Reading]) -> list[Reading]:
    """The day's answer: the last one given on each calendar day, oldest day first.

    A daily question answered twice in a day is one day's answer, not two; the later answer
    is the patient's correction. The day is the one on the patient's own clock (the offset
    the tablet sent), so an answer at 23:30 belongs to the evening it was given.
    """
    last: dict[date, Reading] = {}
    for reading in ordered:
        last[reading.effective_at.date()] = reading
    return sorted(last.values(), key=lambda r: (r.effective_at, r.received_at, r.reading_id))


def next_day(earlier: Reading, later: Reading) -> bool:
    """True when `later` was given the calendar day after `earlier`: a skipped day breaks a run."""
    return (later.effective_at.date() - earlier.effective_at.date()).days == 1


def run_around(
    ordered: Sequence[Reading],
    anchor: Reading,
    deviates: Callable[[Reading], bool],
    adjacent: Callable[[Reading, Reading], bool] | None = None,
) -> list[Reading]:
    """The unbroken run of deviating readings that contains `anchor`, oldest first.

    The run reaches forward as well as back, so a late reading that fills a gap between two
    deviations completes the run it belongs to. Empty when the anchor itself does not deviate.
    `adjacent(earlier, later)`, when given, must also hold between neighbours of the run
    (daily answers: the next calendar day).
    """
    if not deviates(anchor):
        return []
    index = next((i for i, r in enumerate(ordered) if r.key == anchor.key), None)
    if index is None:
        return [anchor]

    start = index
    while start > 0 and deviates(ordered[start - 1]) and _adjacent(ordered, start - 1, adjacent):
        start -= 1
    end = index + 1
    while end < len(ordered) and deviates(ordered[end]) and _adjacent(ordered, end - 1, adjacent):
        end += 1
    return list(ordered[start:end])


def _adjacent(
    ordered: Sequence[Reading], earlier: int, adjacent: Callable[[Reading, Reading], bool] | None
) -> bool:
    return adjacent is None or adjacent(ordered[earlier], ordered[earlier + 1])
