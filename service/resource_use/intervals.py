"""The before/after rates' 95 % intervals and their "too thin to read" marks, from each
patient's use (``usage``) and one set of bootstrap draws per cohort (``bootstrap``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from service.resource_use import bootstrap
from service.resource_use.evaluation_schemas import BeforeAfter, Rate
from service.resource_use.models import ExternalKind
from service.resource_use.usage import Usage

# Per measure of ``BeforeAfter.measures``: a patient's (amount, patient-years) on a side.
Amount = Callable[[Usage, int], tuple[float, float]]


def _events(kind: ExternalKind) -> Amount:
    return lambda row, side: (row.events[kind.value][side], row.years[side])


AMOUNTS: dict[str, Amount] = {
    "admissions": _events(ExternalKind.hospital_stay),
    "emergency_contacts": _events(ExternalKind.emergency_primary_care),
    "gp_contacts": _events(ExternalKind.gp_contact),
    "municipal_acute_bed_stays": _events(ExternalKind.municipal_acute_bed),
    "short_term_stays": _events(ExternalKind.short_term_stay),
    "bed_days": lambda row, side: (row.hospital_bed_days[side], row.years[side]),
    # Home care per patient-year of the time a report covers (its own denominator).
    "home_care_hours": lambda row, side: (row.home_care_hours[side], row.home_care_years[side]),
}


def annotate(
    before_after: BeforeAfter, rows: Sequence[Usage], min_patient_years: float
) -> BeforeAfter:
    """``before_after`` with every rate's interval and thin mark set."""
    ordered = sorted(rows, key=lambda r: r.patient_id)  # a fixed order: the same draws
    weights = bootstrap.draws(len(ordered))
    measures = dict(before_after.measures)
    for name, amount in AMOUNTS.items():
        comparison = measures.get(name)
        if comparison is None:
            continue
        sides = []
        for side, rate in enumerate((comparison.before, comparison.after)):
            pairs = [amount(row, side) for row in ordered]
            sides.append(_with_interval(rate, pairs, weights, min_patient_years))
        measures[name] = comparison.model_copy(update={"before": sides[0], "after": sides[1]})
    return before_after.model_copy(update={"measures": measures})


def _with_interval(
    rate: Rate,
    pairs: Sequence[tuple[float, float]],
    weights: bootstrap.Weights,
    min_patient_years: float,
) -> Rate:
    years = sum(y for _, y in pairs)
    found = bootstrap.ratio_interval([a for a, _ in pairs], [y for _, y in pairs], weights)
    low, high = (None, None) if found is None else (round(found[0], 2), round(found[1], 2))
    return rate.model_copy(update={"low": low, "high": high, "thin": years < min_patient_years})
