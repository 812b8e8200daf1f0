"""The evaluation's time arithmetic, table-driven: no database, no clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from service.resource_use.periods import (
    Span,
    filled_slots,
    local_period,
    nearest_rank,
    status_spans,
)

OSLO = ZoneInfo("Europe/Oslo")
DAY = timedelta(days=1)


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def test_a_period_is_local_days_and_stops_at_now() -> None:
    # 29 March 2026: the clocks go forward in Oslo, the day has 23 hours.
    period = local_period(date(2026, 3, 29), date(2026, 3, 29), OSLO, at(31))
    assert (period.start, period.end) == (at(28, 23), at(29, 22))
    assert period.days == pytest.approx(23 / 24)
    unfinished = local_period(date(2026, 3, 1), date(2026, 3, 31), OSLO, at(10, 12))
    assert unfinished.end == at(10, 12)
    assert unfinished.days == pytest.approx(9.5 + 1 / 24)


def test_status_spans_follow_pauses_and_stop_at_the_end() -> None:
    changes = [
        (at(5), "paused"),
        (at(8), "active"),
        (at(8), "active"),  # a resume of an active patient changes nothing
        (at(12), "ended"),
        (at(20), "active"),
    ]
    assert status_spans(at(1), changes, at(15)) == [
        Span(at(1), at(5), "active"),
        Span(at(5), at(8), "paused"),
        Span(at(8), at(12), "active"),
    ]
    # Without changes: active from enrolment; a change before enrolment counts from it.
    assert status_spans(at(3), [], at(4)) == [Span(at(3), at(4), "active")]
    assert status_spans(at(3), [(at(1), "paused")], at(4)) == [Span(at(3), at(4), "paused")]


@pytest.mark.parametrize(
    ("readings", "hours", "expected"),
    [
        ([], 24 * 3, (3, 0)),
        ([at(1, 8), at(1, 20), at(2, 8)], 24 * 3, (3, 2)),  # two on one day fill one slot
        ([at(3, 8)], 24 * 2 + 12, (2, 0)),  # a part day at the end expects nothing
        ([at(1, 8)], 12, (0, 0)),
        ([at(0 + 1, 0) - timedelta(seconds=1)], 24, (1, 0)),  # before the span
    ],
)
def test_filled_slots(readings: list[datetime], hours: int, expected: tuple[int, int]) -> None:
    start = at(1)
    assert filled_slots(start, start + timedelta(hours=hours), DAY, readings) == expected


@pytest.mark.parametrize(
    ("values", "p90", "median_rank"),
    [
        ([], None, None),
        ([5.0], 5.0, 5.0),
        ([3, 1, 2], 3, 2),
        ([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 90, 50),
    ],
)
def test_nearest_rank(values: list[float], p90: float | None, median_rank: float | None) -> None:
    assert nearest_rank(values, 0.9) == p90
    assert nearest_rank(values, 0.5) == median_rank
