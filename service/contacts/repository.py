"""Queries of planned contacts; every one carries the caller's reach (``service.tenancy``):
a nurse reaches her centre's patients, a patient their own."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal
from service.contacts.models import PlannedContact
from service.tenancy import measurements_visible_to

contact = PlannedContact.__table__  # type: ignore[attr-defined]


async def insert(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(sa.insert(contact).values(**values))


async def upcoming(
    conn: AsyncConnection, principal: Principal, patient_id: str, now: datetime, limit: int
) -> Sequence[Row[Any]]:
    """The patient's contacts not yet due and not cancelled, soonest first."""
    query = (
        sa.select(contact)
        .where(
            contact.c.patient_id == patient_id,
            contact.c.planned_at >= now,
            contact.c.cancelled_at.is_(None),
            measurements_visible_to(principal, contact),
        )
        .order_by(contact.c.planned_at, contact.c.id)
        .limit(limit)
    )
    return (await conn.execute(query)).all()


async def cancel(
    conn: AsyncConnection, principal: Principal, patient_id: str, contact_id: str, now: datetime
) -> Row[Any] | None:
    """Cancel it once; None if it is not the caller's to cancel or already cancelled."""
    query = (
        sa.update(contact)
        .where(
            contact.c.id == contact_id,
            contact.c.patient_id == patient_id,
            contact.c.cancelled_at.is_(None),
            measurements_visible_to(principal, contact),
        )
        .values(cancelled_at=now, cancelled_by=principal.subject)
        .returning(*contact.c)
    )
    return (await conn.execute(query)).first()
