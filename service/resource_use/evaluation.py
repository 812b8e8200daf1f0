"""One centre's evaluation for a period: load the rows, turn them into facts, count.

The figures come for the whole centre, for each municipality it serves (each pays for
and reports on its own patients) and for each protocol cohort (the protocol of the
patient's care plan at the period's end).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

import alerts
from alerts.careplan import Schedule
from alerts.missing import expected_schedules
from service.auth.principal import Principal
from service.careplans import service as careplans
from service.cost_models import service as cost_models
from service.cost_models.schemas import Prices
from service.errors import ApiError, NotFound
from service.queue import readings as rule_readings
from service.resource_use import disclosure, shares
from service.resource_use import evaluation_repository as repository
from service.resource_use.evaluation_schemas import Evaluation, Figures, PriceList
from service.resource_use.facts import (
    ActionFacts,
    ExternalFacts,
    Facts,
    ItemFacts,
    PatientFacts,
)
from service.resource_use.figures import compute
from service.resource_use.periods import Period, local_period, status_spans

MAX_PERIOD_DAYS = 3 * 366
# Dates the period's arithmetic can hold (local midnights in UTC, the year before each
# enrolment, a day past the end); the fuzzer's year 1 used to answer 500.
EARLIEST = date(1900, 1, 1)
LATEST = date(9000, 12, 31)
NO_PROTOCOL = "none"


async def evaluate(
    conn: AsyncConnection,
    principal: Principal,
    centre_id: str,
    first: date,
    last: date,
    zone: ZoneInfo,
    now: datetime,
    *,
    exact: bool = False,
    min_patient_years: float = 1.0,
    intervals_too: bool = True,
) -> Evaluation:
    """The centre's figures after the small-number rule (``disclosure``); ``exact``: as
    computed, for the centre's own leaders checking their data (the API's opt-in).
    ``intervals_too=False``: no bootstrap intervals (``figures.compute``)."""
    if first < EARLIEST or last > LATEST:
        raise ApiError(f"from and to: dates between {EARLIEST} and {LATEST}")
    if last < first:
        raise ApiError("to: before from")
    if (last - first).days >= MAX_PERIOD_DAYS:
        raise ApiError(f"to: a period is at most {MAX_PERIOD_DAYS} days")
    centre = await repository.centre_of(conn, principal, centre_id)
    if centre is None:
        raise NotFound("no such centre")
    period = local_period(first, last, zone, now)
    facts = await _facts(conn, principal, centre_id, period)
    models = await cost_models.in_force(conn, centre.id, last)
    prices = {m: model.prices for m, model in models.items()}
    by_municipality: dict[str, set[str]] = defaultdict(set)
    by_protocol: dict[str, set[str]] = defaultdict(set)
    for patient in facts.patients:
        by_municipality[patient.municipality].add(patient.id)
        by_protocol[patient.protocol or NO_PROTOCOL].add(patient.id)
    overall, municipalities = shares.split(
        compute(facts, period, zone, prices, min_patient_years, intervals_too=intervals_too),
        _cohorts(facts, by_municipality, period, zone, prices, min_patient_years, intervals_too),
        prices,
    )
    computed = Evaluation(
        centre_id=centre.id,
        centre_name=centre.name,
        period_from=first,
        period_to=last,
        days=round(period.days, 2),
        timezone=zone.key,
        generated_at=now,
        overall=overall,
        by_municipality=municipalities,
        by_protocol=_cohorts(
            facts, by_protocol, period, zone, prices, min_patient_years, intervals_too
        ),
        cost_models={
            m: PriceList(valid_from=v.valid_from, prices=v.prices, sources=v.sources)
            for m, v in models.items()
        },
        municipalities_without_cost_model=[m for m in centre.municipalities if m not in models],
        min_patient_years=min_patient_years,
    )
    # Every format shows the figures after the small-number rule, never before.
    return computed if exact else disclosure.disclose(computed)


def _cohorts(
    facts: Facts,
    groups: Mapping[str, set[str]],
    period: Period,
    zone: ZoneInfo,
    prices: Mapping[str, Prices],
    min_patient_years: float,
    intervals_too: bool = True,
) -> dict[str, Figures]:
    """Figures per group, leaving out groups with nobody in follow-up in the period."""
    figures = {
        key: compute(
            facts.of(ids), period, zone, prices, min_patient_years, intervals_too=intervals_too
        )
        for key, ids in sorted(groups.items())
    }
    return {key: f for key, f in figures.items() if f.patients.count}


async def _facts(
    conn: AsyncConnection, principal: Principal, centre_id: str, period: Period
) -> Facts:
    start, end = period.start, period.end
    changes: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for row in await repository.status_changes(conn, principal, centre_id, end):
        changes[row.patient_id].append((row.changed_at, row.status))
    plans = _plans(await repository.plan_versions(conn, principal, centre_id, end))
    patients = [
        PatientFacts(
            id=row.id,
            municipality=row.municipality,
            enrolled_at=row.enrolled_at,
            spans=status_spans(row.enrolled_at, changes.get(row.id, ()), end),
            **plans.get(row.id, {"protocol": None, "schedules": {}, "plan_since": None}),
        )
        for row in await repository.patients(conn, principal, centre_id, end)
    ]
    readings: dict[str, dict[str, list[datetime]]] = defaultdict(lambda: defaultdict(list))
    for row in await repository.reading_times(conn, principal, centre_id, start, end):
        for part in rule_readings.PANEL_PARTS.get(row.measurement, (row.measurement,)):
            readings[row.patient_id][rule_readings.rule_key(part)].append(row.effective_at)
    return Facts(
        patients=patients,
        readings=readings,
        items=[
            ItemFacts(**row._asdict())
            for row in await repository.items_opened(conn, principal, centre_id, start, end)
        ],
        actions=[
            ActionFacts(**row._asdict())
            for row in await repository.actions(conn, principal, centre_id, start, end)
        ],
        externals=[
            ExternalFacts(**row._asdict())
            for row in await repository.externals(conn, principal, centre_id, end)
        ],
    )


def _plans(versions: Sequence[Row[Any]]) -> dict[str, dict[str, Any]]:
    """Per patient: the protocol and schedules of the newest version, and when the
    first was set. Versions come oldest first."""
    first: dict[str, datetime] = {}
    newest: dict[str, Row[Any]] = {}
    for row in versions:
        first.setdefault(row.patient_id, row.changed_at)
        newest[row.patient_id] = row
    return {
        patient_id: {
            "protocol": row.protocol,
            "schedules": _schedules(row.protocol, row.settings),
            "plan_since": first[patient_id],
        }
        for patient_id, row in newest.items()
    }


def _schedules(protocol: str, settings: Mapping[str, Any]) -> dict[str, Schedule]:
    if protocol not in alerts.available_protocols():
        return {}
    plan = careplans.to_alerts_plan(protocol, settings, "active")
    return expected_schedules(plan, alerts.load_protocol(protocol))
