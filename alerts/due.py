"""What a patient is asked to do today: the care plan's measurements and forms, and which
of them are done. The tablet's home screen shows it; the nurse need not explain it.

Pure, like the missing-reading scan it mirrors: the schedules, what was last seen, and the
patient's day (its start and end in the centre's time zone) are arguments. A task is on
today's list when it falls due before the day ends (or never arrived); it is done when
it was taken today and the next one falls due after today. A weekly form answered three
days ago is not on the list; a daily reading taken at 07:00 is, and done.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts.careplan import CarePlan
from alerts.missing import expected_schedules
from alerts.model import require_aware
from alerts.protocols import Protocol
from alerts.text import FORMS


@dataclass(frozen=True, slots=True)
class Task:
    measurement: str
    # A form delivers it (its score or an answer), rather than a device.
    form: bool
    done: bool
    last_at: datetime | None
    due_at: datetime | None


def due_today(
    plan: CarePlan,
    protocol: Protocol,
    last_seen: Mapping[str, datetime],
    day_start: datetime,
    day_end: datetime,
) -> list[Task]:
    """Today's tasks, in measurement order. Nothing while the follow-up is not active:
    a paused patient is asked for nothing."""
    require_aware(day_start, "day_start")
    require_aware(day_end, "day_end")
    if not plan.active:
        return []
    tasks = []
    for measurement, schedule in sorted(expected_schedules(plan, protocol).items()):
        last = last_seen.get(measurement)
        next_due = None if last is None else last + timedelta(hours=schedule.every_hours)
        later = next_due is not None and next_due >= day_end
        done = later and last is not None and last >= day_start
        if later and not done:
            continue  # not due before the day ends (a weekly form answered this week)
        tasks.append(Task(measurement, measurement in FORMS, done, last, next_due))
    return tasks
