"""An inter-municipal centre's costs split between the municipalities it serves. Pure.

A centre serving several municipalities is paid for by them together; each sees its
share of the centre's logged nurse time and running cost by its patients' share of
the centre's active patient-days, whoever the minutes were logged for. Kroner where
every municipality with patients has a cost model (else a share in kroner would rest
on a total the centre cannot price): nurse time at each municipality's own hourly
price, and the running cost of all the centre's patient-months, each at its
municipality's price.
"""

from __future__ import annotations

from collections.abc import Mapping

from service.cost_models.schemas import Prices
from service.resource_use.evaluation_schemas import Figure, Figures, Share

PATIENT_MONTH_DAYS = 30


def split(
    overall: Figures, by_municipality: Mapping[str, Figures], prices: Mapping[str, Prices]
) -> tuple[Figures, dict[str, Figures]]:
    """The centre's figures with its whole (a fraction of one), and each municipality's
    with its share."""
    active = overall.patient_days.active or 0.0
    minutes = overall.nurse_time.minutes or 0.0
    priced = all(m in prices for m in by_municipality)
    running = None
    if priced:
        running = sum(
            (f.patient_days.total or 0.0)
            / PATIENT_MONTH_DAYS
            * prices[m].running_cost_per_patient_month
            for m, f in by_municipality.items()
        )
    parts: dict[str, Figures] = {}
    nurse_kroner_total = 0.0
    for municipality, figures in by_municipality.items():
        fraction = (figures.patient_days.active or 0.0) / active if active else 0.0
        nurse_kroner = None
        if priced:
            nurse_kroner = minutes * fraction / 60 * prices[municipality].nurse_hour
            nurse_kroner_total += nurse_kroner
        share = Share(
            active_days_fraction=Figure.of(fraction, figures.patients.count or 0),
            nurse_minutes=round(minutes * fraction, 1),
            nurse_kroner=None if nurse_kroner is None else round(nurse_kroner),
            running_cost_kroner=None if running is None else round(running * fraction),
        )
        parts[municipality] = figures.model_copy(update={"share": share})
    whole = Share(
        active_days_fraction=Figure.of(1.0 if active else 0.0, overall.patients.count or 0),
        nurse_minutes=round(minutes, 1),
        nurse_kroner=round(nurse_kroner_total) if priced else None,
        running_cost_kroner=None if running is None else round(running),
    )
    return overall.model_copy(update={"share": whole}), parts
