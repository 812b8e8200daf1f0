"""Silence as a finding: an expected reading that never came, a device that went quiet.

A stale-data alarm that never fires was a standing complaint about monitoring systems: a
sensor died and nobody noticed. The service runs this scan on a timer; it is pure, so "now"
and what was last seen are arguments.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts import device
from alerts.careplan import CarePlan, Schedule
from alerts.model import Finding, Rule, Severity, require_aware
from alerts.protocols import Protocol, load_protocol
from alerts.text import FORMS, Lang, both, hours, name


def expected_schedules(plan: CarePlan, protocol: Protocol) -> dict[str, Schedule]:
    """The protocol's schedules with the plan's: a plan may add, replace or drop (None) one."""
    merged = dict(protocol.expected)
    for measurement, schedule in plan.schedule.items():
        if schedule is None:
            merged.pop(measurement, None)
        else:
            merged[measurement] = schedule
    return merged


@dataclass(frozen=True, slots=True)
class Gap:
    """A finding of ``scan_missing`` before its words are written: what makes it the same
    finding as one stored before (rule, measurement or device, effective_at), and how to
    make it. A scan of a region finds mostly gaps it stored on an earlier tick; the
    service sets those aside by this identity and writes the words of the new ones only.
    """

    rule: Rule
    what: str
    effective_at: datetime
    finding: Callable[[], Finding]


def scan_missing(
    plan: CarePlan,
    last_seen: Mapping[str, datetime],
    device_last_seen: Mapping[str, datetime],
    enrolled_at: datetime,
    now: datetime,
) -> list[Finding]:
    """Missing readings (yellow) and silent devices (yellow, technical).

    last_seen: measurement -> effective_at of its newest reading.
    device_last_seen: device_id -> when the service last heard from it (received_at).
    enrolled_at: start of the current active period (enrolment, or the end of the last
        pause); no clock runs before it, so a patient back from hospital is not "missing".
    A measurement is missing once `every + window + grace` hours have passed since its last
    reading; exactly at that moment it is not yet. Each finding's effective_at is the moment
    the gap passed its limit, moved on by one schedule period for each further period of
    silence: stable across the scans of one period, for the service to deduplicate on, and
    new each period, so continued silence is raised again (daily, for a daily reading).
    """
    return [gap.finding() for gap in gaps(plan, last_seen, device_last_seen, enrolled_at, now)]


def gaps(
    plan: CarePlan,
    last_seen: Mapping[str, datetime],
    device_last_seen: Mapping[str, datetime],
    enrolled_at: datetime,
    now: datetime,
) -> list[Gap]:
    """``scan_missing``'s findings, each as a ``Gap`` whose finding is made on demand."""
    for value, label in ((enrolled_at, "enrolled_at"), (now, "now")):
        require_aware(value, label)
    if not plan.active:
        return []
    protocol = load_protocol(plan.protocol)
    result: list[Gap] = []
    for measurement, schedule in sorted(expected_schedules(plan, protocol).items()):
        seen = last_seen.get(measurement)
        at = _overdue_period(schedule, seen, enrolled_at, now)
        if at is not None:
            make = functools.partial(_missing, measurement, schedule, seen, enrolled_at, now)
            result.append(Gap(Rule.MISSING_READING, measurement, at, _made(make)))
    limit = plan.device_silence_hours or protocol.device_silence_hours
    for device_id, heard_at in sorted(device_last_seen.items()):
        quiet_since = max(heard_at, enrolled_at)
        if now - quiet_since > timedelta(hours=limit):
            make = functools.partial(device.silent, device_id, quiet_since, limit, now)
            at = quiet_since + timedelta(hours=limit)
            result.append(Gap(Rule.DEVICE_SILENT, device_id, at, _made(make)))
    return result


def _made(make: Callable[[], Finding | None]) -> Callable[[], Finding]:
    def finding() -> Finding:
        found = make()
        assert found is not None  # the gap was found by the same arithmetic
        return found

    return finding


def _overdue_period(
    schedule: Schedule, seen: datetime | None, enrolled_at: datetime, now: datetime
) -> datetime | None:
    """The effective_at of the missing-reading finding (see ``scan_missing``), or None
    when the reading is not overdue."""
    since = enrolled_at if seen is None or seen < enrolled_at else seen
    overdue_at = since + schedule.missing_after
    if now <= overdue_at:
        return None
    periods = (now - overdue_at) // timedelta(hours=schedule.every_hours)
    return overdue_at + periods * timedelta(hours=schedule.every_hours)


def _missing(
    measurement: str,
    schedule: Schedule,
    seen: datetime | None,
    enrolled_at: datetime,
    now: datetime,
) -> Finding | None:
    never = seen is None or seen < enrolled_at
    since = enrolled_at if seen is None or seen < enrolled_at else seen
    overdue_at = since + schedule.missing_after
    if now <= overdue_at:
        return None
    # One finding per schedule period of continued silence: stable within a period (the
    # service deduplicates on effective_at), new in the next, so a patient who stays
    # silent after the nurse closed the first item is raised again the next day.
    periods = (now - overdue_at) // timedelta(hours=schedule.every_hours)
    gap_hours = (now - since).total_seconds() / 3600
    reason_nb, reason_en = both(lambda lang: _reason(measurement, schedule, gap_hours, never, lang))
    return Finding(
        rule=Rule.MISSING_READING,
        severity=Severity.YELLOW,
        measurement=measurement,
        direction=None,
        reading_ids=(),
        reason_nb=reason_nb,
        reason_en=reason_en,
        value=round(gap_hours, 1),
        threshold=schedule.missing_after.total_seconds() / 3600,
        effective_at=overdue_at + periods * timedelta(hours=schedule.every_hours),
    )


def _reason(measurement: str, schedule: Schedule, gap: float, never: bool, lang: Lang) -> str:
    what = name(measurement, lang)
    every = hours(schedule.every_hours, lang)
    limit = hours(schedule.missing_after.total_seconds() / 3600, lang)
    form = FORMS.get(measurement)
    if form is not None:
        return _form_reason(form[0] if lang == "nb" else form[1], every, limit, gap, never, lang)
    if lang == "nb":
        head = (
            f"Ingen måling av {what} siden oppfølgingen startet for {hours(gap, lang)} siden"
            if never
            else f"Ingen måling av {what} på {hours(gap, lang)}"
        )
        return f"{head} (forventet én per {every}, grense {limit})"
    head = (
        f"No {what} reading since follow-up started {hours(gap, lang)} ago"
        if never
        else f"No {what} reading for {hours(gap, lang)}"
    )
    return f"{head} (expected one every {every}, limit {limit})"


def _form_reason(form: str, every: str, limit: str, gap: float, never: bool, lang: Lang) -> str:
    """A missing form, said as one: the patient did not answer, no device failed."""
    span = hours(gap, lang)
    if lang == "nb":
        when = f"siden oppfølgingen startet for {span} siden" if never else f"på {span}"
        return (
            f"Pasienten har ikke fylt ut {form} {when} (forventet ett per {every}, grense {limit})"
        )
    when = f"since follow-up started {span} ago" if never else f"for {span}"
    return f"The patient has not answered {form} {when} (expected one every {every}, limit {limit})"
