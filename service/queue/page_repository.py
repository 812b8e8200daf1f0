"""The queue as nurses read it: the page of items, one item, a patient's latest, each
with its patient and current protocol. Reads only, always through ``service.tenancy``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal
from service.queue.models import ItemState
from service.queue.repository import UNRESOLVED, item, patient, plan
from service.tenancy import measurements_visible_to

_PATIENT_COLUMNS = (
    patient.c.given_name,
    patient.c.family_name,
    patient.c.birth_date,
    patient.c.sex,
    patient.c.municipality,
)


def _queue_query(principal: Principal) -> Any:
    """Items with their patient and current protocol, for one item or one patient's: the
    newest plan is found per item on the (patient, version) index, never by grouping
    every plan of every patient."""
    newest = (
        sa.select(sa.func.max(plan.c.version))
        .where(plan.c.patient_id == item.c.patient_id)
        .correlate(item)
        .scalar_subquery()
    )
    return (
        sa.select(item, *_PATIENT_COLUMNS, plan.c.protocol)
        .select_from(item)
        .join(patient, patient.c.id == item.c.patient_id)
        .outerjoin(plan, sa.and_(plan.c.patient_id == item.c.patient_id, plan.c.version == newest))
        .where(measurements_visible_to(principal, item))
    )


_RED_FIRST = sa.case((item.c.severity == "red", 0), else_=1)


async def list_items(
    conn: AsyncConnection,
    principal: Principal,
    *,
    states: Sequence[str],
    now: datetime,
    severity: str | None,
    claimed_by: str | None,
    protocol: str | None,
    limit: int,
) -> Sequence[Row[Any]]:
    """The queue: red before yellow, then longest waiting first. A snoozed item whose
    time is up counts as open, even before the worker has woken it.

    The page of items is chosen first and only its rows are joined to their patients and
    plans: joined before the limit, the planner hashed every patient and every plan for
    a page of 200 (issue 18: 88 ms at 20,000 patients, growing with the region)."""
    wanted = [item.c.state.in_([s for s in states if s != ItemState.snoozed.value])]
    if ItemState.open.value in states and ItemState.snoozed.value not in states:
        wanted.append(sa.and_(item.c.state == ItemState.snoozed.value, item.c.snoozed_until <= now))
    if ItemState.snoozed.value in states:
        wanted.append(item.c.state == ItemState.snoozed.value)
    query = sa.select(item).where(measurements_visible_to(principal, item), sa.or_(*wanted))
    if severity is not None:
        query = query.where(item.c.severity == severity)
    if claimed_by is not None:
        query = query.where(item.c.claimed_by == claimed_by)
    if protocol is not None:
        current = (
            sa.select(plan.c.protocol)
            .where(plan.c.patient_id == item.c.patient_id)
            .order_by(plan.c.version.desc())
            .limit(1)
            .correlate(item)
            .scalar_subquery()
        )
        query = query.where(current == protocol)
    page = query.order_by(_RED_FIRST, item.c.waiting_since, item.c.id).limit(limit).subquery()
    newest = (
        sa.select(sa.func.max(plan.c.version))
        .where(plan.c.patient_id == page.c.patient_id)
        .correlate(page)
        .scalar_subquery()
    )
    rows = (
        sa.select(page, *_PATIENT_COLUMNS, plan.c.protocol)
        .select_from(page)
        .join(patient, patient.c.id == page.c.patient_id)
        .outerjoin(plan, sa.and_(plan.c.patient_id == page.c.patient_id, plan.c.version == newest))
        .order_by(sa.case((page.c.severity == "red", 0), else_=1), page.c.waiting_since, page.c.id)
    )
    return (await conn.execute(rows)).all()


async def get_visible(conn: AsyncConnection, principal: Principal, item_id: str) -> Row[Any] | None:
    query = _queue_query(principal).where(item.c.id == item_id)
    return (await conn.execute(query)).first()


async def latest_of_patient(
    conn: AsyncConnection, principal: Principal, patient_id: str
) -> Row[Any] | None:
    """The patient's unresolved item, else the one resolved last (the console shows it
    with its history after it was closed)."""
    unresolved_first = sa.case((UNRESOLVED, 0), else_=1)
    query = (
        _queue_query(principal)
        .where(item.c.patient_id == patient_id)
        .order_by(unresolved_first, item.c.opened_at.desc(), item.c.id)
        .limit(1)
    )
    return (await conn.execute(query)).first()
