"""The evaluation's main figures month by month, as the API answers them."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel

from service.resource_use.evaluation_schemas import Figure


class TrendMonth(BaseModel):
    # "2026-01": the local calendar month, evaluated alone.
    month: str
    period_from: date
    period_to: date
    # Main figure -> its value this month, null where the small-number rule hides it.
    figures: dict[str, Figure]


class Trend(BaseModel):
    centre_id: str
    centre_name: str
    # "centre", or the one municipality or protocol asked for.
    cohort: str
    group: str
    month_from: str
    month_to: str
    timezone: str
    generated_at: datetime
    # The main figures in the order a report draws them, and what each is divided by.
    figure_names: list[str]
    denominators: dict[str, str]
    months: list[TrendMonth]
    # The same figures for the months together, as ``/api/evaluation`` gives them for
    # the whole period: the total no hidden month may be recomputed from.
    total: dict[str, Figure]
    # "2026-01/patients", "total/patients": what the small-number rule hid, and the rule.
    suppressed: list[str] = []
    disclosure_rule: str = ""
