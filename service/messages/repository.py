"""Storing and finding messages; every query carries the caller's reach (service.tenancy)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal
from service.database import insert_once
from service.messages.models import FROM_CENTRE, FROM_PATIENT, MessageRow
from service.patients.repository import patient
from service.tenancy import measurements_visible_to

message = MessageRow.__table__  # type: ignore[attr-defined]


async def insert_new(conn: AsyncConnection, row: dict[str, Any]) -> bool:
    """Insert unless the same message is stored: two resends racing end in the database."""
    statement = insert_once(message, conn.dialect.name, ("patient_id", "dedup_key"))
    result = await conn.execute(statement, [row])
    return result.first() is not None


async def find_by_dedup(conn: AsyncConnection, patient_id: str, dedup_key: str) -> Row[Any]:
    query = sa.select(message).where(
        message.c.patient_id == patient_id, message.c.dedup_key == dedup_key
    )
    return (await conn.execute(query)).one()


async def get_visible(
    conn: AsyncConnection, principal: Principal, message_id: str
) -> Row[Any] | None:
    query = sa.select(message).where(
        message.c.id == message_id, measurements_visible_to(principal, message)
    )
    return (await conn.execute(query)).first()


async def exists_in_thread(conn: AsyncConnection, patient_id: str, message_id: str) -> bool:
    query = sa.select(message.c.id).where(
        message.c.id == message_id, message.c.patient_id == patient_id
    )
    return (await conn.execute(query)).first() is not None


async def search_visible(
    conn: AsyncConnection,
    principal: Principal,
    *,
    patient_id: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> Sequence[Row[Any]]:
    """Newest first; ``after`` is the previous page's last (sent_at, id)."""
    query = sa.select(message).where(measurements_visible_to(principal, message))
    if patient_id is not None:
        query = query.where(message.c.patient_id == patient_id)
    if after is not None:
        query = query.where(sa.tuple_(message.c.sent_at, message.c.id) < tuple(after))
    query = query.order_by(message.c.sent_at.desc(), message.c.id.desc()).limit(limit)
    return (await conn.execute(query)).all()


async def mark_read(
    conn: AsyncConnection,
    principal: Principal,
    patient_id: str,
    direction: str,
    reader: str,
    now: datetime,
) -> Sequence[Row[Any]]:
    """Mark the thread's unread messages of ``direction`` read; the rows marked."""
    statement = (
        sa.update(message)
        .where(
            message.c.patient_id == patient_id,
            message.c.direction == direction,
            message.c.read_at.is_(None),
            measurements_visible_to(principal, message),
        )
        .values(read_at=now, read_by=reader)
        .returning(message.c.id, message.c.centre_id)
    )
    return (await conn.execute(statement)).all()


async def unread_from_centre(conn: AsyncConnection, patient_id: str) -> int:
    """The patient's unread replies (the caller has resolved the patient in reach)."""
    query = sa.select(sa.func.count()).where(
        message.c.patient_id == patient_id,
        message.c.direction == FROM_CENTRE,
        message.c.read_at.is_(None),
    )
    return int((await conn.execute(query)).scalar_one())


async def waiting_threads(conn: AsyncConnection, principal: Principal) -> Sequence[Row[Any]]:
    """Patients with messages no nurse has read, within the caller's reach, the longest
    waiting first: the queue's list of "message waiting", also for patients without an
    open item."""
    query = (
        sa.select(
            message.c.patient_id,
            message.c.centre_id,
            patient.c.given_name,
            patient.c.family_name,
            sa.func.count().label("waiting"),
            sa.func.min(message.c.sent_at).label("waiting_since"),
        )
        .join(patient, patient.c.id == message.c.patient_id)
        .where(
            message.c.direction == FROM_PATIENT,
            message.c.read_at.is_(None),
            measurements_visible_to(principal, message),
        )
        .group_by(
            message.c.patient_id, message.c.centre_id, patient.c.given_name, patient.c.family_name
        )
        .order_by(sa.func.min(message.c.sent_at))
    )
    return (await conn.execute(query)).all()


async def waiting_of_patients(conn: AsyncConnection, patient_ids: Sequence[str]) -> dict[str, int]:
    """Unread messages from these patients (the caller has them within reach: the queue
    rows it shows)."""
    if not patient_ids:
        return {}
    query = (
        sa.select(message.c.patient_id, sa.func.count())
        .where(
            message.c.patient_id.in_(list(dict.fromkeys(patient_ids))),
            message.c.direction == FROM_PATIENT,
            message.c.read_at.is_(None),
        )
        .group_by(message.c.patient_id)
    )
    return {str(p): int(n) for p, n in (await conn.execute(query)).all()}
