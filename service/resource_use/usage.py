"""Each patient's use of care before enrolment and in follow-up, one row per patient:
what the kroner, the readmissions and the bootstrap intervals are computed from. Pure.

Before: the 365 days up to enrolment. After: the patient's follow-up in the period
(``facts.windows``). Events count by their start; a stay's bed days are its midnights,
counted with the admission; home-care levels hold until the next report or their end.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from service.resource_use.facts import ExternalFacts, Facts, Window, bed_days, side_of, windows
from service.resource_use.models import ExternalKind
from service.resource_use.periods import DAY, Period, clip, overlap

PATIENT_YEAR_DAYS = 365
PATIENT_WEEK_DAYS = 7


def _pair() -> list[float]:
    return [0.0, 0.0]


@dataclass
class Usage:
    """One patient's use, each list ``[before, after]``."""

    patient_id: str
    municipality: str
    years: list[float] = field(default_factory=_pair)
    # Events by kind (ExternalKind values), counted by their start.
    events: dict[str, list[float]] = field(default_factory=lambda: defaultdict(_pair))
    hospital_bed_days: list[float] = field(default_factory=_pair)
    # Hospital stays with a discharge: what the bed days rest on.
    discharged_stays: list[float] = field(default_factory=_pair)
    acute_bed_days: list[float] = field(default_factory=_pair)
    home_care_hours: list[float] = field(default_factory=_pair)
    home_care_reported: list[bool] = field(default_factory=lambda: [False, False])
    # Patient-years some home-care report covers: the home-care rate's denominator.
    home_care_years: list[float] = field(default_factory=_pair)
    # In follow-up only: the nurse's logged work in the period.
    nurse_minutes: float = 0.0
    nurse_actions: int = 0


def of(facts: Facts, period: Period, zone: ZoneInfo) -> list[Usage]:
    """A row for every patient in follow-up in the period."""
    patients = [p for p in facts.patients if clip(p.spans, period.start, period.end)]
    rows: dict[str, Usage] = {}
    windows_of: dict[str, tuple[Window, Window]] = {}
    for patient in patients:
        windows_of[patient.id] = both = windows(patient, period)
        row = rows[patient.id] = Usage(patient.id, patient.municipality)
        row.years = [(end - start) / DAY / PATIENT_YEAR_DAYS for start, end in both]
    levels: dict[str, list[ExternalFacts]] = defaultdict(list)
    for event in facts.externals:
        if event.patient_id not in rows:
            continue
        if event.kind == ExternalKind.home_care_hours.value:
            levels[event.patient_id].append(event)
            continue
        side = side_of(windows_of[event.patient_id], event.started_at)
        if side is None:
            continue
        row = rows[event.patient_id]
        row.events[event.kind][side] += 1
        if event.ended_at is None:
            continue
        if event.kind == ExternalKind.hospital_stay.value:
            row.hospital_bed_days[side] += bed_days(event.started_at, event.ended_at, zone)
            row.discharged_stays[side] += 1
        elif event.kind == ExternalKind.municipal_acute_bed.value:
            row.acute_bed_days[side] += bed_days(event.started_at, event.ended_at, zone)
    for patient_id, reports in levels.items():
        _home_care(rows[patient_id], reports, windows_of[patient_id])
    for action in facts.actions:
        if action.patient_id in rows and period.start <= action.occurred_at < period.end:
            rows[action.patient_id].nurse_minutes += action.minutes
            rows[action.patient_id].nurse_actions += 1
    return list(rows.values())


def _home_care(row: Usage, reports: list[ExternalFacts], both: tuple[Window, Window]) -> None:
    reports.sort(key=lambda e: e.started_at)
    for index, report in enumerate(reports):
        following = reports[index + 1].started_at if index + 1 < len(reports) else None
        ends = [t for t in (report.ended_at, following) if t is not None]
        end = min(ends) if ends else datetime.max.replace(tzinfo=report.started_at.tzinfo)
        for side, (lower, upper) in enumerate(both):
            days = overlap(report.started_at, end, lower, upper)
            if days > 0:
                row.home_care_hours[side] += (report.hours_per_week or 0) * days / PATIENT_WEEK_DAYS
                row.home_care_reported[side] = True
                row.home_care_years[side] += days / PATIENT_YEAR_DAYS
