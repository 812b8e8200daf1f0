"""Data access for retractions on the triage side: the findings a retracted reading
may have been evidence for, marking them withdrawn, and the item they raised.

Writes are given a patient already resolved within the caller's reach (the reading was
found through ``service.tenancy`` before it was retracted)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.queue.repository import UNRESOLVED, finding, item


async def findings_between(
    conn: AsyncConnection, patient_id: str, start: datetime, end: datetime
) -> Sequence[Row[Any]]:
    """The patient's standing findings on readings anchored in [start, end]: the only
    ones whose evidence can include a reading of that time (the caller filters by
    ``reading_ids``; JSON containment is not portable between the two databases)."""
    query = sa.select(finding).where(
        finding.c.patient_id == patient_id,
        finding.c.observation_id.is_not(None),
        finding.c.withdrawn_at.is_(None),
        finding.c.effective_at >= start,
        finding.c.effective_at <= end,
    )
    return (await conn.execute(query)).all()


async def withdraw(
    conn: AsyncConnection, finding_ids: Sequence[str], observation_id: str, now: datetime
) -> None:
    if finding_ids:
        await conn.execute(
            sa.update(finding)
            .where(finding.c.id.in_(list(finding_ids)), finding.c.withdrawn_at.is_(None))
            .values(withdrawn_at=now, withdrawn_for=observation_id)
        )


async def set_evidence(conn: AsyncConnection, finding_id: str, reading_ids: list[str]) -> None:
    """A standing finding's evidence after one of its readings was retracted."""
    await conn.execute(
        sa.update(finding).where(finding.c.id == finding_id).values(reading_ids=reading_ids)
    )


async def unresolved_item_for_update(conn: AsyncConnection, item_id: str) -> Row[Any] | None:
    query = sa.select(item).where(item.c.id == item_id, UNRESOLVED).with_for_update()
    return (await conn.execute(query)).first()
