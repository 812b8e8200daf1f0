"""The rows one centre's evaluation counts, each query within the caller's reach
(``service.tenancy.evaluation_rows_visible_to``). A few queries per evaluation, each
bounded by the centre and the period; the arithmetic is done in ``figures``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal
from service.careplans.models import CarePlanVersion
from service.centres.models import Centre
from service.ingest.models import ENTERED_IN_ERROR, Observation
from service.patients.models import Patient
from service.queue.models import WITHDRAWN, TriageItem
from service.resource_use.models import ExternalEvent, PatientStatusChange, ResourceUseEvent
from service.resource_use.repository import heads
from service.tenancy import evaluation_centres_visible_to, evaluation_rows_visible_to

centre = Centre.__table__  # type: ignore[attr-defined]
patient = Patient.__table__  # type: ignore[attr-defined]
change = PatientStatusChange.__table__  # type: ignore[attr-defined]
plan = CarePlanVersion.__table__  # type: ignore[attr-defined]
observation = Observation.__table__  # type: ignore[attr-defined]
item = TriageItem.__table__  # type: ignore[attr-defined]
event = ResourceUseEvent.__table__  # type: ignore[attr-defined]
external = ExternalEvent.__table__  # type: ignore[attr-defined]


async def centre_of(conn: AsyncConnection, principal: Principal, centre_id: str) -> Row[Any] | None:
    query = sa.select(centre.c.id, centre.c.name, centre.c.municipalities).where(
        centre.c.id == centre_id, evaluation_centres_visible_to(principal, centre)
    )
    return (await conn.execute(query)).first()


def _of(principal: Principal, table: Any, centre_id: str) -> Any:
    return sa.and_(table.c.centre_id == centre_id, evaluation_rows_visible_to(principal, table))


async def patients(
    conn: AsyncConnection, principal: Principal, centre_id: str, end: datetime
) -> Sequence[Row[Any]]:
    """Patients enrolled before the period's end: no name, no identity number."""
    query = sa.select(patient.c.id, patient.c.municipality, patient.c.enrolled_at).where(
        _of(principal, patient, centre_id), patient.c.enrolled_at < end
    )
    return (await conn.execute(query)).all()


async def status_changes(
    conn: AsyncConnection, principal: Principal, centre_id: str, end: datetime
) -> Sequence[Row[Any]]:
    query = sa.select(change.c.patient_id, change.c.status, change.c.changed_at).where(
        _of(principal, change, centre_id), change.c.changed_at < end
    )
    return (await conn.execute(query)).all()


async def plan_versions(
    conn: AsyncConnection, principal: Principal, centre_id: str, end: datetime
) -> Sequence[Row[Any]]:
    """Every plan version set before the period's end, oldest first per patient."""
    query: Any = (
        sa.select(
            plan.c.patient_id, plan.c.version, plan.c.protocol, plan.c.settings, plan.c.changed_at
        )
        .where(_of(principal, plan, centre_id), plan.c.changed_at < end)
        .order_by(plan.c.patient_id, plan.c.version)
    )
    return (await conn.execute(query)).all()


async def reading_times(
    conn: AsyncConnection, principal: Principal, centre_id: str, start: datetime, end: datetime
) -> Sequence[Row[Any]]:
    """Measurements taken in the period (their own time, however late they arrived)."""
    query = sa.select(
        observation.c.patient_id, observation.c.measurement, observation.c.effective_at
    ).where(
        _of(principal, observation, centre_id),
        observation.c.kind == "measurement",
        observation.c.status != ENTERED_IN_ERROR,  # a retracted reading was not received
        observation.c.effective_at >= start,
        observation.c.effective_at < end,
    )
    return (await conn.execute(query)).all()


async def items_opened(
    conn: AsyncConnection, principal: Principal, centre_id: str, start: datetime, end: datetime
) -> Sequence[Row[Any]]:
    query: Any = sa.select(
        item.c.patient_id,
        item.c.severity,
        item.c.technical,
        item.c.opened_at,
        item.c.waiting_since,
        item.c.claimed_at,
        item.c.resolved_at,
    ).where(
        _of(principal, item, centre_id),
        item.c.opened_at >= start,
        item.c.opened_at < end,
        # Closed because every finding rested on retracted readings: nothing to handle.
        item.c.outcome.is_distinct_from(WITHDRAWN),
    )
    return (await conn.execute(query)).all()


async def actions(
    conn: AsyncConnection, principal: Principal, centre_id: str, start: datetime, end: datetime
) -> Sequence[Row[Any]]:
    """The head of each chain of logged actions, retracted ones left out."""
    query = sa.select(
        event.c.patient_id, event.c.action, event.c.minutes, event.c.occurred_at
    ).where(
        _of(principal, event, centre_id),
        heads(event),
        event.c.retracted.is_(False),
        event.c.occurred_at >= start,
        event.c.occurred_at < end,
    )
    return (await conn.execute(query)).all()


async def externals(
    conn: AsyncConnection, principal: Principal, centre_id: str, end: datetime
) -> Sequence[Row[Any]]:
    """Heads of external events that began before the period's end: the before-window
    reaches back a year before each enrolment, and a home-care level holds until the
    next."""
    query: Any = sa.select(
        external.c.patient_id,
        external.c.kind,
        external.c.started_at,
        external.c.ended_at,
        external.c.hours_per_week,
    ).where(
        _of(principal, external, centre_id),
        heads(external),
        external.c.retracted.is_(False),
        external.c.started_at < end,
    )
    return (await conn.execute(query)).all()
