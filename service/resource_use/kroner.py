"""Use of care in kroner, pure: per-patient use (``usage``) and the municipalities'
prices in, a ``Kroner`` out.

Every patient is priced by their own municipality's model, so a protocol cohort or a
centre spanning several municipalities adds kroner priced the same way as each
municipality's own figures. Outside the service, before and after: admissions (the part
of a stay that does not depend on its length), hospital bed days, legevakt contacts, GP
consultations, KAD days and home-care hours. The service's own cost, in follow-up
only: the nurse's logged time and the running cost per patient-month (30 days).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from service.cost_models.schemas import Prices
from service.resource_use import bootstrap
from service.resource_use.evaluation_schemas import Figure, Kroner, KronerLine
from service.resource_use.models import ExternalKind
from service.resource_use.usage import PATIENT_YEAR_DAYS, Usage

PATIENT_MONTH_DAYS = 30
LINES = (
    "hospital_admissions",
    "hospital_bed_days",
    "emergency_primary_care_contacts",
    "gp_consultations",
    "municipal_acute_bed_days",
    "home_care_hours",
    "nurse_time",
    "running_cost",
)
# The price each line is counted in.
PRICE_OF = {
    "hospital_admissions": "hospital_admission",
    "hospital_bed_days": "hospital_bed_day",
    "emergency_primary_care_contacts": "emergency_primary_care_contact",
    "gp_consultations": "gp_consultation",
    "municipal_acute_bed_days": "municipal_acute_bed_day",
    "home_care_hours": "home_care_hour",
    "nurse_time": "nurse_hour",
    "running_cost": "running_cost_per_patient_month",
}

# Per line: (quantity priced, count it rests on) of one patient on one side.
Measure = Callable[[Usage, int], tuple[float, float]]


def _events(kind: ExternalKind) -> Measure:
    return lambda row, side: (row.events[kind.value][side], row.events[kind.value][side])


MEASURES: dict[str, Measure] = {
    "hospital_admissions": _events(ExternalKind.hospital_stay),
    "hospital_bed_days": lambda r, s: (r.hospital_bed_days[s], r.discharged_stays[s]),
    "emergency_primary_care_contacts": _events(ExternalKind.emergency_primary_care),
    "gp_consultations": _events(ExternalKind.gp_contact),
    "municipal_acute_bed_days": lambda r, s: (
        r.acute_bed_days[s],
        r.events[ExternalKind.municipal_acute_bed.value][s],
    ),
    "home_care_hours": lambda r, s: (r.home_care_hours[s], float(r.home_care_reported[s])),
    "nurse_time": lambda r, s: (r.nurse_minutes / 60, r.nurse_actions) if s else (0.0, 0.0),
    "running_cost": lambda r, s: (
        (r.years[1] * PATIENT_YEAR_DAYS / PATIENT_MONTH_DAYS, 1.0) if s else (0.0, 0.0)
    ),
}


def compute(
    rows: Sequence[Usage],
    prices: Mapping[str, Prices],
    min_patient_years: float,
    *,
    interval: bool = True,
) -> Kroner | None:
    """None when no patient of ``rows`` lives in a municipality with a model;
    ``interval=False``: without the bootstrap interval of the difference."""
    priced = [r for r in rows if r.municipality in prices]
    if not priced:
        return None
    priced.sort(key=lambda r: r.patient_id)  # a fixed order: the same bootstrap draws
    years = [sum(r.years[side] for r in priced) for side in (0, 1)]
    lines: dict[str, KronerLine] = {}
    sums = [0.0, 0.0]
    # Each patient's kroner on each side, for the interval of the total's difference.
    own = [[0.0, 0.0] for _ in priced]
    for name in LINES:
        measure, price = MEASURES[name], PRICE_OF[name]
        amounts, counts = [0.0, 0.0], [0, 0]
        for index, row in enumerate(priced):
            unit = getattr(prices[row.municipality], price)
            for side in (0, 1):
                quantity, count = measure(row, side)
                amounts[side] += quantity * unit
                own[index][side] += quantity * unit
                counts[side] += round(count)
        sums = [sums[0] + amounts[0], sums[1] + amounts[1]]
        lines[name] = _line(amounts, counts, years)
    patients = len(priced)
    low, high = _difference_interval(priced, own) if interval else (None, None)
    return Kroner(
        patients=Figure.counted(patients),
        before_patient_years=round(years[0], 3),
        after_patient_years=round(years[1], 3),
        lines=lines,
        total=_line(sums, [patients, patients], years),
        too_thin=min(years) < min_patient_years,
        difference_low=low,
        difference_high=high,
    )


def _difference_interval(
    priced: Sequence[Usage], own: Sequence[Sequence[float]]
) -> tuple[float | None, float | None]:
    """The 95 % bootstrap interval over patients of the total's after − before per
    patient-year, widened to whole kroner (the difference is of rounded rates)."""
    found = bootstrap.difference_interval(
        ([k[0] for k in own], [r.years[0] for r in priced]),
        ([k[1] for k in own], [r.years[1] for r in priced]),
        bootstrap.draws(len(priced)),
    )
    if found is None:
        return None, None
    return float(math.floor(found[0])), float(math.ceil(found[1]))


def _line(amounts: list[float], counts: list[int], years: list[float]) -> KronerLine:
    rates = [round(amounts[s] / years[s]) if years[s] else None for s in (0, 1)]
    before, after = rates
    difference = None if before is None or after is None else after - before
    nonzero = [c for c in counts if c]
    return KronerLine(
        before=Figure.of(before, counts[0]),
        after=Figure.of(after, counts[1]),
        difference=Figure.of(difference, min(nonzero, default=0)),
    )
