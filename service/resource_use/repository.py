"""Data access of the resource-use log and of events outside the service.

Every read adds the caller's reach (``service.tenancy``); writes are given rows whose
patient was already found within it. Rows are only ever inserted: a correction is a
new row, and the unique ``corrects`` makes a second correction of the same row fail
at the database, also when two nurses correct at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal
from service.patients.models import Patient
from service.resource_use.models import ExternalEvent, ResourceUseEvent
from service.tenancy import (
    external_events_visible_to,
    patients_for_external_events,
    patients_for_readings,
    resource_use_visible_to,
)

event = ResourceUseEvent.__table__  # type: ignore[attr-defined]
external = ExternalEvent.__table__  # type: ignore[attr-defined]
patient = Patient.__table__  # type: ignore[attr-defined]

_PATIENT_FACTS = (patient.c.id, patient.c.centre_id, patient.c.status, patient.c.enrolled_at)


async def patient_for_actions(
    conn: AsyncConnection, principal: Principal, patient_id: str
) -> Row[Any] | None:
    """The patient if the caller may log or read nurse actions for them."""
    query = sa.select(*_PATIENT_FACTS).where(
        patient.c.id == patient_id, patients_for_readings(principal, patient)
    )
    return (await conn.execute(query)).first()


async def patient_for_external(
    conn: AsyncConnection, principal: Principal, patient_id: str
) -> Row[Any] | None:
    """The patient if the caller may report or read events outside the service."""
    query = sa.select(*_PATIENT_FACTS).where(
        patient.c.id == patient_id, patients_for_external_events(principal, patient)
    )
    return (await conn.execute(query)).first()


async def insert_events(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(sa.insert(event), list(rows))


async def visible_event(
    conn: AsyncConnection, principal: Principal, event_id: str
) -> Row[Any] | None:
    query = sa.select(event).where(
        event.c.id == event_id, resource_use_visible_to(principal, event)
    )
    return (await conn.execute(query)).first()


async def corrector_of_event(conn: AsyncConnection, event_id: str) -> str | None:
    """The id of the row that corrects ``event_id``, if one does."""
    query = sa.select(event.c.id).where(event.c.corrects == event_id)
    return (await conn.execute(query)).scalar_one_or_none()


async def events_of_patient(
    conn: AsyncConnection, principal: Principal, patient_id: str
) -> Sequence[Row[Any]]:
    """Every row, corrected ones too, oldest first: the history a nurse reviews."""
    query = (
        sa.select(event)
        .where(event.c.patient_id == patient_id, resource_use_visible_to(principal, event))
        .order_by(event.c.occurred_at, event.c.recorded_at, event.c.id)
    )
    return (await conn.execute(query)).all()


async def insert_external(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(sa.insert(external).values(**values))


async def visible_external(
    conn: AsyncConnection, principal: Principal, event_id: str
) -> Row[Any] | None:
    query = sa.select(external).where(
        external.c.id == event_id, external_events_visible_to(principal, external)
    )
    return (await conn.execute(query)).first()


async def external_by_reference(
    conn: AsyncConnection, patient_id: str, external_id: str
) -> Row[Any] | None:
    query = sa.select(external).where(
        external.c.patient_id == patient_id, external.c.external_id == external_id
    )
    return (await conn.execute(query)).first()


async def corrector_of_external(conn: AsyncConnection, event_id: str) -> str | None:
    query = sa.select(external.c.id).where(external.c.corrects == event_id)
    return (await conn.execute(query)).scalar_one_or_none()


async def externals_of_patient(
    conn: AsyncConnection, principal: Principal, patient_id: str
) -> Sequence[Row[Any]]:
    query = (
        sa.select(external)
        .where(external.c.patient_id == patient_id, external_events_visible_to(principal, external))
        .order_by(external.c.started_at, external.c.recorded_at, external.c.id)
    )
    return (await conn.execute(query)).all()


def heads(table: Any) -> Any:
    """The rows nothing corrects: the one row of each chain the figures count."""
    later = table.alias("later")
    return ~sa.exists().where(later.c.corrects == table.c.id)
