"""The experience form is asked at enrolment and every three months, never flagged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.experience import EVERY, experience_due, stage

ENROLLED = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)


def _day(days_after: float) -> tuple[datetime, datetime]:
    start = datetime(2026, 1, 10, tzinfo=UTC) + timedelta(days=days_after)
    return start, start + timedelta(days=1)


@pytest.mark.parametrize(
    ("last_answered_days", "today_days", "expected"),
    [
        (None, 0, (True, False)),  # asked on the day of enrolment
        (None, 40, (True, False)),  # and until it is answered
        (0.2, 0, (True, True)),  # answered today: shown as done
        (0.2, 1, (False, False)),  # answered: not asked again before three months
        (0.2, 90, (False, False)),
        (0.2, 91, (True, False)),  # three months: asked again
        (91.5, 91, (True, True)),
        (91.5, 120, (False, False)),
        (30, 200, (True, False)),  # a missed stage is asked once, not twice
    ],
)
def test_asked_at_enrolment_and_every_three_months(
    last_answered_days: float | None, today_days: float, expected: tuple[bool, bool]
) -> None:
    last = None if last_answered_days is None else ENROLLED + timedelta(days=last_answered_days)
    day_start, day_end = _day(today_days)
    assert experience_due(ENROLLED, last, day_start, day_end) == expected


def test_stages_are_three_months_from_enrolment() -> None:
    assert stage(ENROLLED, ENROLLED - timedelta(hours=1)) == 0
    assert stage(ENROLLED, ENROLLED + EVERY - timedelta(seconds=1)) == 0
    assert stage(ENROLLED, ENROLLED + EVERY) == 1
    assert stage(ENROLLED, ENROLLED + 4 * EVERY + timedelta(days=3)) == 4
