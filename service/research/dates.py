"""Hiding calendar time while keeping every interval.

Each patient gets one offset in whole days, drawn once per study and never zero, and
every date and time of that patient in every file moves by it: the time between two
readings, an item and its resolution, an admission and its discharge is exactly kept,
and so is the time of day (morning blood pressure stays a morning one). Whole days
also mean that coarsening before or after the shift gives the same result, so the
coarsened intervals agree across files too.

Time of day is then truncated to the study's precision (the hour by default): a reading
at 07:42 is written as 07:00. By study setting, all patients are instead moved so that
their enrolment day falls on 2000-01-01: dates then read as days since enrolment.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property

from service.research.models import TimeMode, TimePrecision

ENROLMENT_EPOCH = date(2000, 1, 1)


def draw_offset_days(max_days: int) -> int:
    """A uniformly drawn non-zero offset in [-max_days, max_days]."""
    if max_days < 1:
        raise ValueError("the offset range must allow a non-zero offset")
    while True:
        days = secrets.randbelow(2 * max_days + 1) - max_days
        if days != 0:
            return days


def since_enrolment_offset(enrolled_at: datetime) -> int:
    """The offset that moves the enrolment day to ``ENROLMENT_EPOCH``."""
    return (ENROLMENT_EPOCH - enrolled_at.astimezone(UTC).date()).days


def offset_for(mode: str, drawn_days: int, enrolled_at: datetime) -> int:
    if mode == TimeMode.since_enrolment:
        return since_enrolment_offset(enrolled_at)
    return drawn_days


@dataclass(frozen=True)
class TimeShift:
    """One patient's shift and the study's precision."""

    days: int
    precision: str = TimePrecision.hour

    @cached_property
    def delta(self) -> timedelta:
        return timedelta(days=self.days)

    def moment(self, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        moved = value.astimezone(UTC) + self.delta
        if self.precision == TimePrecision.minute:
            return moved.replace(second=0, microsecond=0)
        if self.precision == TimePrecision.day:
            return moved.replace(hour=0, minute=0, second=0, microsecond=0)
        return moved.replace(minute=0, second=0, microsecond=0)

    def fhir(self, value: datetime | None) -> str | None:
        """A FHIR dateTime: a date alone at day precision, else UTC with seconds."""
        return self.text(self.moment(value))

    def text(self, moved: datetime | None) -> str | None:
        """An already shifted moment as a FHIR dateTime."""
        if moved is None:
            return None
        if self.precision == TimePrecision.day:
            return moved.date().isoformat()
        # A shifted moment is UTC with no fraction of a second: isoformat is its
        # "...T07:00:00+00:00" (C-speed, unlike strftime), the offset written as Z.
        return moved.isoformat()[:19] + "Z"


def days_since(start: datetime, moment: datetime) -> int:
    """Whole days from ``start`` to ``moment`` (negative before it)."""
    return (moment - start) // timedelta(days=1)
