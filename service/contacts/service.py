"""Planning, listing and cancelling a patient's contacts with the centre.

A nurse of the patient's centre plans; the patient sees what is planned (the tablet's
"next contact"). A contact is planned for the future and for a patient still in
follow-up; planning it is not work done (the call, once made, is logged as resource use
when the nurse resolves the item or logs the action).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal
from service.contacts import repository
from service.contacts.schemas import PlannedContactCreate, PlannedContactRead
from service.errors import ApiError, Conflict, NotFound
from service.models_base import new_id
from service.patients import repository as patients

SHOWN = 20
# How far ahead a contact may be planned: a year; further is a typo.
HORIZON = timedelta(days=366)


async def plan(
    conn: AsyncConnection,
    principal: Principal,
    patient_id: str,
    body: PlannedContactCreate,
    now: datetime,
) -> PlannedContactRead:
    patient = await patients.get_for_readings(conn, principal, patient_id)
    if patient is None:
        raise NotFound("no such patient")
    if patient.status == "ended":
        raise Conflict("the patient's follow-up has ended")
    if body.planned_at < now:
        raise ApiError("planned_at: in the past")
    if body.planned_at > now + HORIZON:
        raise ApiError("planned_at: more than a year ahead")
    values = {
        "id": new_id(),
        "centre_id": patient.centre_id,
        "patient_id": patient.id,
        "planned_at": body.planned_at,
        "kind": body.kind.value,
        "planned_by": principal.subject,
        "created_at": now,
        "cancelled_at": None,
        "cancelled_by": None,
    }
    await repository.insert(conn, values)
    return read(values)


async def upcoming(
    conn: AsyncConnection, principal: Principal, patient_id: str, now: datetime
) -> Sequence[PlannedContactRead]:
    if await patients.get_for_readings(conn, principal, patient_id) is None:
        raise NotFound("no such patient")
    rows = await repository.upcoming(conn, principal, patient_id, now, SHOWN)
    return [read(row._mapping) for row in rows]


async def cancel(
    conn: AsyncConnection, principal: Principal, patient_id: str, contact_id: str, now: datetime
) -> PlannedContactRead:
    row = await repository.cancel(conn, principal, patient_id, contact_id, now)
    if row is None:
        raise NotFound("no such planned contact")
    return read(row._mapping)


def read(row: Any) -> PlannedContactRead:
    return PlannedContactRead.model_validate(dict(row))
