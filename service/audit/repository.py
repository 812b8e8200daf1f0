"""Writing and finding audit records. Core SQL: the insert is on every request's path.

Rows are only ever inserted: this module has no update and no delete, and the
database refuses them too (see migration 0003).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.audit.models import AuditEvent, Outcome
from service.auth.principal import Principal, Role
from service.centres.models import Centre
from service.ingest.models import Observation
from service.patients.models import Patient
from service.tenancy import audit_events_visible_to

audit_event = AuditEvent.__table__  # type: ignore[attr-defined]
_centre = Centre.__table__  # type: ignore[attr-defined]
_patient = Patient.__table__  # type: ignore[attr-defined]
_observation = Observation.__table__  # type: ignore[attr-defined]

# Built once: the ingest hot path adds exactly this one statement to its transaction.
_INSERT = sa.insert(audit_event)


async def insert(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """One INSERT for one or many rows (a search writes one per patient it returned)."""
    if len(rows) == 1:
        await conn.execute(_INSERT, rows[0])
    elif rows:
        await conn.execute(_INSERT, list(rows))


async def search_visible(
    conn: AsyncConnection,
    principal: Principal,
    *,
    patient_id: str | None,
    actor: str | None,
    since: datetime | None,
    until: datetime | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> Sequence[Row[Any]]:
    """Records within the caller's reach, newest first (keyset paging on time, id)."""
    query = sa.select(audit_event).where(audit_events_visible_to(principal, audit_event))
    if patient_id is not None:
        query = query.where(audit_event.c.patient_id == patient_id)
    if actor is not None:
        query = query.where(audit_event.c.actor == actor)
    if since is not None:
        query = query.where(audit_event.c.recorded_at >= since)
    if until is not None:
        query = query.where(audit_event.c.recorded_at < until)
    return await _newest_first(conn, query, after, limit)


async def access_log(
    conn: AsyncConnection,
    principal: Principal,
    *,
    after: tuple[datetime, str] | None,
    limit: int,
) -> Sequence[Row[Any]]:
    """What others did with a patient's data, with the name of the centre it went through.

    Left out: refused attempts (nothing was seen), the patient's own use of their data,
    and readings arriving from their devices through the centre's gateway (system
    clients creating readings), which would bury the rest.
    """
    query = (
        sa.select(audit_event, _centre.c.name.label("centre_name"))
        .select_from(audit_event.outerjoin(_centre, _centre.c.id == audit_event.c.centre_id))
        .where(
            audit_events_visible_to(principal, audit_event),
            audit_event.c.outcome == Outcome.success.value,
            sa.not_(
                sa.and_(
                    audit_event.c.actor_role == Role.patient.value,
                    audit_event.c.actor == principal.subject,
                )
            ),
            sa.not_(
                sa.and_(audit_event.c.actor_role == Role.system.value, audit_event.c.action == "C")
            ),
        )
    )
    return await _newest_first(conn, query, after, limit)


async def _newest_first(
    conn: AsyncConnection, query: Any, after: tuple[datetime, str] | None, limit: int
) -> Sequence[Row[Any]]:
    order = (audit_event.c.recorded_at, audit_event.c.id)
    if after is not None:
        query = query.where(sa.tuple_(*order) < tuple(after))
    query = query.order_by(*(c.desc() for c in order)).limit(limit)
    return (await conn.execute(query)).all()


async def owner_of(
    conn: AsyncConnection, resource_type: str, resource_id: str
) -> tuple[str, str] | None:
    """(patient id, centre id) of a resource a refused request named, for its record.

    Not restricted by the caller's reach, on purpose: the answer goes only into the
    audit trail, never back to the caller, and it lets the patient's centre see that
    someone outside it tried.
    """
    if resource_type == "Patient":
        query = sa.select(_patient.c.id, _patient.c.centre_id).where(_patient.c.id == resource_id)
    elif resource_type == "Observation":
        query = sa.select(_observation.c.patient_id, _observation.c.centre_id).where(
            _observation.c.id == resource_id
        )
    else:
        return None
    row = (await conn.execute(query)).first()
    return (row[0], row[1]) if row is not None else None


async def owners_of_bundle(
    conn: AsyncConnection, patient_ids: Sequence[str], observation_ids: Sequence[str]
) -> list[tuple[str, str]]:
    """(patient id, centre id) of every patient a processed Bundle touched."""
    if not patient_ids and not observation_ids:
        return []
    of_observations = sa.select(_observation.c.patient_id).where(
        _observation.c.id.in_(list(observation_ids))
    )
    query = (
        sa.select(_patient.c.id, _patient.c.centre_id)
        .where(sa.or_(_patient.c.id.in_(list(patient_ids)), _patient.c.id.in_(of_observations)))
        .order_by(_patient.c.id)
    )
    return [(row[0], row[1]) for row in await conn.execute(query)]
