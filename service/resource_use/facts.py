"""The plain facts one evaluation counts, and the before/after windows of a patient:
shared by the figures (``figures``), the kroner (``kroner``), the readmissions and the
intervals, so each states the same rule once. Pure: no database, no clock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from alerts.careplan import Schedule
from service.resource_use.periods import Period, Span, clip

BEFORE_DAYS = 365


@dataclass(frozen=True, slots=True)
class PatientFacts:
    id: str
    municipality: str
    enrolled_at: datetime
    # Follow-up from enrolment to now (periods.status_spans).
    spans: Sequence[Span]
    protocol: str | None
    # The schedules of the plan in force at the period's end (alerts.expected_schedules).
    schedules: Mapping[str, Schedule]
    # When the patient's first care plan was set: nothing is expected before.
    plan_since: datetime | None


@dataclass(frozen=True, slots=True)
class ItemFacts:
    patient_id: str
    severity: str
    technical: bool
    opened_at: datetime
    waiting_since: datetime
    claimed_at: datetime | None
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class ActionFacts:
    patient_id: str
    action: str
    minutes: float
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class ExternalFacts:
    patient_id: str
    kind: str
    started_at: datetime
    ended_at: datetime | None
    hours_per_week: float | None


@dataclass(frozen=True)
class Facts:
    """Everything one evaluation counts; heads of correction chains only."""

    patients: Sequence[PatientFacts]
    # patient -> schedule key -> reading times
    readings: Mapping[str, Mapping[str, Sequence[datetime]]] = field(default_factory=dict)
    items: Sequence[ItemFacts] = ()
    actions: Sequence[ActionFacts] = ()
    externals: Sequence[ExternalFacts] = ()

    def of(self, patient_ids: set[str]) -> Facts:
        """The same facts for a cohort of the patients."""
        return replace(
            self,
            patients=[p for p in self.patients if p.id in patient_ids],
            items=[i for i in self.items if i.patient_id in patient_ids],
            actions=[a for a in self.actions if a.patient_id in patient_ids],
            externals=[e for e in self.externals if e.patient_id in patient_ids],
        )


Window = tuple[datetime, datetime]


def windows(patient: PatientFacts, period: Period) -> tuple[Window, Window]:
    """Before: the 365 days up to enrolment. After: the patient's follow-up in the period."""
    spans = clip(patient.spans, period.start, period.end)
    before = (patient.enrolled_at - timedelta(days=BEFORE_DAYS), patient.enrolled_at)
    return before, (spans[0].start, spans[-1].end)


def side_of(windows: tuple[Window, Window], moment: datetime) -> int | None:
    for side, (start, end) in enumerate(windows):
        if start <= moment < end:
            return side
    return None


def bed_days(admitted: datetime, discharged: datetime, zone: ZoneInfo) -> int:
    """Midnights spent in hospital (liggedøgn): discharge date minus admission date, in
    local dates; a stay within one day is a stay with no bed day."""
    return (discharged.astimezone(zone).date() - admitted.astimezone(zone).date()).days
