"""The evaluation's arithmetic, pure: plain facts in, ``Figures`` out.

Every rule the report's method section states is here, once: who counts as enrolled,
what a patient-day, an expected reading, a patient-week, -month and -year are.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from service.cost_models.schemas import Prices
from service.queue.schemas import Action
from service.resource_use import intervals, kroner, readmissions, usage
from service.resource_use.evaluation_schemas import (
    ActionTime,
    Adherence,
    BeforeAfter,
    Comparison,
    Distribution,
    Figure,
    Figures,
    Items,
    NurseTime,
    PatientDays,
    Rate,
)
from service.resource_use.facts import (
    ActionFacts,
    ExternalFacts,
    Facts,
    ItemFacts,
    PatientFacts,
    Window,
    bed_days,
    side_of,
    windows,
)
from service.resource_use.models import ExternalKind
from service.resource_use.periods import (
    DAY,
    Period,
    clip,
    filled_slots,
    nearest_rank,
    overlap,
)

PATIENT_WEEK_DAYS = 7
PATIENT_MONTH_DAYS = 30
PATIENT_YEAR_DAYS = 365
SEVERITIES = ("red", "yellow")
# Contacts with the patient (and the nurse's with the GP), by type.
CONTACT_ACTIONS = (
    Action.phone_call,
    Action.video_consultation,
    Action.secure_message,
    Action.home_visit,
    Action.contact_with_gp,
)
# Before-and-after measures counted from external events: measure -> kind.
COUNTED = {
    "admissions": ExternalKind.hospital_stay,
    "emergency_contacts": ExternalKind.emergency_primary_care,
    "gp_contacts": ExternalKind.gp_contact,
    "municipal_acute_bed_stays": ExternalKind.municipal_acute_bed,
    "short_term_stays": ExternalKind.short_term_stay,
}


def compute(
    facts: Facts,
    period: Period,
    zone: ZoneInfo,
    prices: Mapping[str, Prices] | None = None,
    min_patient_years: float = 0.0,
    *,
    intervals_too: bool = True,
) -> Figures:
    """The cohort's figures; kroner where ``prices`` has a model for some patient's
    municipality. ``intervals_too=False``: the same values without the bootstrap
    intervals (the monthly trend draws values only, and the draws cost the most)."""
    patients = [p for p in facts.patients if clip(p.spans, period.start, period.end)]
    ids = {p.id for p in patients}
    facts = facts.of(ids)
    active = sum(_days(p, period, "active") for p in patients)
    paused = sum(_days(p, period, "paused") for p in patients)
    rows = usage.of(facts, period, zone)
    return Figures(
        patients=Figure.counted(len(patients)),
        newly_enrolled=Figure.counted(
            sum(period.start <= p.enrolled_at < period.end for p in patients)
        ),
        patient_days=PatientDays(
            active=round(active, 2), paused=round(paused, 2), total=round(active + paused, 2)
        ),
        adherence=_adherence(facts, patients, period),
        items=_items(facts.items, period, active),
        nurse_time=_nurse_time(facts.actions, period, active + paused),
        contacts={
            a.value: Figure.counted(
                sum(x.action == a.value and _within(x.occurred_at, period) for x in facts.actions)
            )
            for a in CONTACT_ACTIONS
        },
        before_after=_with_intervals(
            _before_after(facts.externals, patients, period, zone),
            rows,
            min_patient_years,
            intervals_too,
        ),
        kroner=kroner.compute(rows, prices or {}, min_patient_years, interval=intervals_too),
    )


def _with_intervals(
    before_after: BeforeAfter, rows: Sequence[usage.Usage], min_patient_years: float, on: bool
) -> BeforeAfter:
    return intervals.annotate(before_after, rows, min_patient_years) if on else before_after


def _days(patient: PatientFacts, period: Period, status: str) -> float:
    return sum(
        (s.end - s.start) / DAY
        for s in clip(patient.spans, period.start, period.end)
        if s.status == status
    )


def _within(moment: datetime, period: Period) -> bool:
    return period.start <= moment < period.end


def _adherence(facts: Facts, patients: Sequence[PatientFacts], period: Period) -> Adherence:
    expected = received = scheduled = 0
    for patient in patients:
        if patient.plan_since is None or not patient.schedules:
            continue
        lower = max(period.start, patient.plan_since)
        mine = facts.readings.get(patient.id, {})
        before = expected
        for span in clip(patient.spans, lower, period.end):
            if span.status != "active":
                continue
            for key, schedule in patient.schedules.items():
                every = timedelta(hours=schedule.every_hours)
                slots, filled = filled_slots(span.start, span.end, every, mine.get(key, ()))
                expected += slots
                received += filled
        scheduled += expected > before
    without_plan = sum(p.plan_since is None for p in patients)
    return Adherence(
        expected=expected,
        received=received,
        ratio=Figure.of(received / expected if expected else None, scheduled),
        patients_without_plan=Figure.counted(without_plan),
    )


def _items(items: Sequence[ItemFacts], period: Period, active_days: float) -> Items:
    opened = [i for i in items if _within(i.opened_at, period)]
    weeks = active_days / PATIENT_WEEK_DAYS
    # Technical items (no care plan, silent device, missing form) say nothing about the
    # patient's health: they are counted apart and never inflate the clinical rates.
    clinical = [i for i in opened if not i.technical]
    by_severity = {s: [i for i in clinical if i.severity == s] for s in SEVERITIES}
    return Items(
        by_severity={s: Figure.counted(len(found)) for s, found in by_severity.items()},
        per_patient_week={
            s: Figure.of(len(found) / weeks if weeks else None, len(found))
            for s, found in by_severity.items()
        },
        technical=Figure.counted(sum(i.technical for i in opened)),
        time_to_claim_minutes={
            s: _distribution([_minutes(i.waiting_since, i.claimed_at) for i in found])
            for s, found in by_severity.items()
        },
        time_to_resolve_minutes={
            s: _distribution([_minutes(i.waiting_since, i.resolved_at) for i in found])
            for s, found in by_severity.items()
        },
    )


def _minutes(start: datetime, end: datetime | None) -> float | None:
    # A claim before the item's last raise (a red on a claimed yellow) waited nothing.
    return None if end is None else max(0.0, (end - start).total_seconds() / 60)


def _distribution(values: Sequence[float | None]) -> Distribution:
    known = [v for v in values if v is not None]
    median = statistics.median(known) if known else None
    p90 = nearest_rank(known, 0.9)
    return Distribution(
        n=Figure.counted(len(known)),
        median=None if median is None else round(median, 2),
        p90=None if p90 is None else round(p90, 2),
    )


def _nurse_time(actions: Sequence[ActionFacts], period: Period, days: float) -> NurseTime:
    done = [a for a in actions if _within(a.occurred_at, period)]
    months = days / PATIENT_MONTH_DAYS

    def per_month(minutes: float, events: int) -> Figure:
        return Figure.of(minutes / months if months else None, events)

    by_action: dict[str, ActionTime] = {}
    for action in Action:
        mine = [a for a in done if a.action == action.value]
        minutes = sum(a.minutes for a in mine)
        by_action[action.value] = ActionTime(
            events=Figure.counted(len(mine)),
            minutes=round(minutes, 2),
            per_patient_month=per_month(minutes, len(mine)),
        )
    total = sum(a.minutes for a in done)
    return NurseTime(
        minutes=round(total, 2), per_patient_month=per_month(total, len(done)), by_action=by_action
    )


def _before_after(
    externals: Sequence[ExternalFacts],
    patients: Sequence[PatientFacts],
    period: Period,
    zone: ZoneInfo,
) -> BeforeAfter:
    windows_of = {p.id: windows(p, period) for p in patients}
    years = {
        side: sum((w[side][1] - w[side][0]) / DAY for w in windows_of.values()) / PATIENT_YEAR_DAYS
        for side in (0, 1)
    }
    counts: dict[str, Counter[int]] = defaultdict(Counter)
    days_in_bed: Counter[int] = Counter()
    bed_stays: Counter[int] = Counter()
    open_stays = 0
    for event in externals:
        side = side_of(windows_of[event.patient_id], event.started_at)
        if side is None:
            continue
        for measure, kind in COUNTED.items():
            if event.kind == kind.value:
                counts[measure][side] += 1
        if event.kind != ExternalKind.hospital_stay.value:
            continue
        if event.ended_at is None:
            open_stays += 1
        else:
            days_in_bed[side] += bed_days(event.started_at, event.ended_at, zone)
            bed_stays[side] += 1

    def rate(side: int, amount: float, count: int) -> Rate:
        return Rate.of(amount / years[side] if years[side] else None, count)

    measures = {}
    for measure in COUNTED:
        before, after = counts[measure][0], counts[measure][1]
        measures[measure] = Comparison(before=rate(0, before, before), after=rate(1, after, after))
    measures["bed_days"] = Comparison(
        before=rate(0, days_in_bed[0], bed_stays[0]), after=rate(1, days_in_bed[1], bed_stays[1])
    )
    measures["home_care_hours"] = _home_care(externals, windows_of)
    return BeforeAfter(
        patients=Figure.counted(len(patients)),
        before_patient_years=round(years[0], 3),
        after_patient_years=round(years[1], 3),
        patients_with_reports=Figure.counted(len({e.patient_id for e in externals})),
        stays_without_discharge=open_stays,
        measures=measures,
        readmissions_30_days=readmissions.compute(externals, patients, period),
    )


def _home_care(
    externals: Sequence[ExternalFacts], windows: Mapping[str, tuple[Window, Window]]
) -> Comparison:
    """Weekly levels: each report holds from its start to its end, or to the patient's
    next report. Hours per patient-year over the days some report covers: patients
    without any report are not counted as receiving none."""
    levels: dict[str, list[ExternalFacts]] = defaultdict(list)
    for event in externals:
        if event.kind == ExternalKind.home_care_hours.value:
            levels[event.patient_id].append(event)
    hours, covered, patients = [0.0, 0.0], [0.0, 0.0], [set[str](), set[str]()]
    for patient_id, reports in levels.items():
        reports.sort(key=lambda e: e.started_at)
        for index, report in enumerate(reports):
            following = reports[index + 1].started_at if index + 1 < len(reports) else None
            ends = [t for t in (report.ended_at, following) if t is not None]
            end = min(ends) if ends else datetime.max.replace(tzinfo=report.started_at.tzinfo)
            for side, (lower, upper) in enumerate(windows[patient_id]):
                days = overlap(report.started_at, end, lower, upper)
                if days > 0:
                    hours[side] += (report.hours_per_week or 0) * days / PATIENT_WEEK_DAYS
                    covered[side] += days
                    patients[side].add(patient_id)

    def rate(side: int) -> Rate:
        years = covered[side] / PATIENT_YEAR_DAYS
        return Rate.of(hours[side] / years if years else None, len(patients[side]))

    return Comparison(before=rate(0), after=rate(1))
