"""When a patient is asked how they find the follow-up: at enrolment, then every three
months. Pure: the enrolment, the last answer and the patient's day are arguments.

The questions are evaluation, not symptoms: nothing here raises a finding, and an
unanswered form is simply asked again on the tablet, never flagged to the nurse. The
stages (0 at enrolment, 1 after three months, ...) are also how the evaluation groups
the answers, so "after three months" means the same on the tablet and in the report.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from alerts.model import require_aware

EVERY = timedelta(days=91)  # three months


def stage(enrolled_at: datetime, moment: datetime) -> int:
    """0 from enrolment, 1 from three months after it, and so on; an answer given before
    enrolment (a clock off by a little) counts as the first."""
    require_aware(enrolled_at, "enrolled_at")
    require_aware(moment, "moment")
    return max(0, (moment - enrolled_at) // EVERY)


def experience_due(
    enrolled_at: datetime, last_answered: datetime | None, day_start: datetime, day_end: datetime
) -> tuple[bool, bool]:
    """(on today's list, done today). Due when the current stage has no answer yet; shown
    as done on the day it was answered."""
    require_aware(day_start, "day_start")
    # The stage the day ends in: the form is asked on the day three months are reached.
    today = stage(enrolled_at, max(day_end - timedelta(microseconds=1), enrolled_at))
    if last_answered is None:
        return True, False
    if day_start <= last_answered < day_end:
        return True, True
    return stage(enrolled_at, last_answered) < today, False
