"""The evaluation's figures as the API answers them.

Every number that rests on a count carries that count and a ``small`` flag (the count
is 1 to 4). Every format shows the same cells: ``service.resource_use.disclosure``
removes what rests on 1 to 4 patients or events (and what would give it back by
subtraction) before the API, the CSV, the report or the console sees the figures.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Self

from pydantic import BaseModel

from service.cost_models.schemas import Prices

SMALL_BELOW = 5


class Figure(BaseModel):
    """A value and the number of patients, items or events it is computed from."""

    value: float | None
    # None where the small-number rule hides it (service.resource_use.disclosure).
    count: int | None
    small: bool

    @classmethod
    def of(cls, value: float | None, count: int) -> Self:
        rounded = None if value is None else round(value, 2)
        return cls(value=rounded, count=count, small=0 < count < SMALL_BELOW)

    @classmethod
    def counted(cls, count: int) -> Self:
        return cls.of(count, count)


class Rate(Figure):
    """A rate with its 95 % bootstrap interval over patients (``bootstrap``), and
    ``thin`` where it rests on fewer patient-years than the evaluation's minimum: too
    thin to read. Hidden by the small-number rule, the interval goes with the value."""

    low: float | None = None
    high: float | None = None
    thin: bool = False


class Distribution(BaseModel):
    """Minutes from an item's wait start (when it reached its severity) to its claim or
    its resolve: the median and the 90th percentile by nearest rank."""

    n: Figure
    median: float | None
    p90: float | None


class PatientDays(BaseModel):
    # A plain number is None where the small-number rule hides it.
    active: float | None
    paused: float | None
    total: float | None


class Adherence(BaseModel):
    """Readings received against expected, in whole schedule periods of active days."""

    expected: int | None
    received: int | None
    # received / expected; ``count``: patients with a schedule in the period.
    ratio: Figure
    patients_without_plan: Figure


class Items(BaseModel):
    """Queue items opened in the period: clinical ones by their (final) severity, and
    technical ones (no care plan, silent device, missing form) counted apart."""

    # Clinical items only.
    by_severity: dict[str, Figure]
    # Clinical items per active patient-week (7 active patient-days).
    per_patient_week: dict[str, Figure]
    technical: Figure
    time_to_claim_minutes: dict[str, Distribution]
    time_to_resolve_minutes: dict[str, Distribution]


class ActionTime(BaseModel):
    events: Figure
    minutes: float | None
    per_patient_month: Figure


class NurseTime(BaseModel):
    """Logged minutes; a patient-month is 30 follow-up days (active and paused)."""

    minutes: float | None
    per_patient_month: Figure
    by_action: dict[str, ActionTime]


class Comparison(BaseModel):
    """Per patient-year (365 days), before enrolment and in follow-up."""

    before: Rate
    after: Rate


class Readmission(BaseModel):
    """Hospital discharges followed for 30 days, and those readmitted within them.
    ``share``: readmitted / discharges, resting on the smaller non-zero count."""

    discharges: Figure
    readmitted: Figure
    share: Figure


class Readmissions(BaseModel):
    """30-day readmissions after discharges before enrolment and in follow-up."""

    before: Readmission
    after: Readmission


class BeforeAfter(BaseModel):
    """The 365 days before each patient's enrolment against their follow-up days in the
    period; only what was reported counts."""

    patients: Figure
    before_patient_years: float | None
    after_patient_years: float | None
    patients_with_reports: Figure
    # Hospital stays reported without a discharge: admissions, but not in bed days.
    stays_without_discharge: int | None
    measures: dict[str, Comparison]
    readmissions_30_days: Readmissions


class KronerLine(BaseModel):
    """Kroner per patient-year before enrolment and in follow-up, and after − before
    (negative: a saving). Each ``count`` is what the value rests on (events, stays,
    actions or patients); the difference rests on the smaller non-zero one of the two."""

    before: Figure
    after: Figure
    difference: Figure


class Kroner(BaseModel):
    """Use of care priced by the cohort's municipalities' cost models, per patient-year
    (365 days): before, the 365 days up to each enrolment; after, the follow-up days in
    the period. Each patient is priced by their own municipality's model; patients of a
    municipality without one are left out (``patients`` counts those priced)."""

    patients: Figure
    before_patient_years: float | None
    after_patient_years: float | None
    # hospital_admissions, hospital_bed_days, emergency_primary_care_contacts,
    # gp_consultations, municipal_acute_bed_days, home_care_hours (outside the service);
    # nurse_time, running_cost (the service's own, in follow-up only).
    lines: dict[str, KronerLine]
    total: KronerLine
    # Fewer patient-years than the evaluation's minimum on either side: too thin to read.
    too_thin: bool
    # The 95 % bootstrap interval over patients of ``total.difference`` (whole kroner);
    # None where it cannot be drawn or the small-number rule hides it.
    difference_low: float | None = None
    difference_high: float | None = None


class Share(BaseModel):
    """A municipality's share of an inter-municipal centre's costs, by its patients'
    share of the centre's active patient-days (``shares``); the centre's own is the
    whole. Kroner: None unless every municipality with patients has a cost model."""

    active_days_fraction: Figure
    nurse_minutes: float | None
    nurse_kroner: float | None
    running_cost_kroner: float | None


class PriceList(BaseModel):
    """A municipality's cost model as the evaluation used it: valid on the period's last day."""

    valid_from: date
    prices: Prices
    sources: str | None


class Figures(BaseModel):
    patients: Figure
    newly_enrolled: Figure
    patient_days: PatientDays
    adherence: Adherence
    items: Items
    nurse_time: NurseTime
    # The nurses' own contacts, logged by the service, by action. Contacts outside the
    # service (GP, legevakt), reported from elsewhere, are in ``before_after``.
    contacts: dict[str, Figure]
    before_after: BeforeAfter
    # None: no patient of the cohort lives in a municipality with a cost model.
    kroner: Kroner | None = None
    # The centre (the whole) and its municipalities only; None for a protocol.
    share: Share | None = None


DENOMINATORS = {
    "adherence.ratio": "readings expected in whole schedule periods of active days",
    "items.per_patient_week": "active patient-weeks (7 active patient-days)",
    "nurse_time.per_patient_month": "patient-months (30 follow-up days, active and paused)",
    "before_after.measures": (
        "patient-years (365 days): the 365 days before each enrolment / the follow-up days "
        "in the period"
    ),
    "before_after.measures.home_care_hours": "patient-years some home-care report covers",
    "before_after.readmissions_30_days": "discharges followed for 30 days",
    "kroner": "patient-years, as before_after.measures",
}


class Evaluation(BaseModel):
    centre_id: str
    centre_name: str
    # Local calendar days, both included.
    period_from: date
    period_to: date
    # Days counted: the period up to now.
    days: float
    timezone: str
    generated_at: datetime
    overall: Figures
    by_municipality: dict[str, Figures]
    # "none": patients without a care plan.
    by_protocol: dict[str, Figures]
    # The cost models the kroner are priced by, per municipality; served municipalities
    # without one are listed apart (no kroner for their patients).
    cost_models: dict[str, PriceList] = {}
    municipalities_without_cost_model: list[str] = []
    # What each kind of rate is divided by, by its path in ``Figures``: one each.
    denominators: dict[str, str] = DENOMINATORS
    # Patient-years a rate must rest on not to be marked too thin to read.
    min_patient_years: float = 0.0
    # Where the small-number rule hid a value ("cohort/group/path"), and the rule.
    suppressed: list[str] = []
    disclosure_rule: str = ""
