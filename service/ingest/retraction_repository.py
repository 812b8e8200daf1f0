"""Data access for retractions: the reading as it stands, its conditional update to
entered-in-error, its earlier versions, and the evidence a finding was judged on.

Every read on a caller's behalf carries ``service.tenancy``'s clause: a reading outside
the caller's reach is not found, exactly as one that does not exist."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal
from service.ingest.models import ENTERED_IN_ERROR, ObservationVersion
from service.ingest.repository import NOT_RETRACTED, observation
from service.tenancy import measurements_visible_to

version = ObservationVersion.__table__  # type: ignore[attr-defined]


async def get_visible_for_update(
    conn: AsyncConnection, principal: Principal, observation_id: str
) -> Row[Any] | None:
    """The reading, locked until commit: two retractions of one reading queue up."""
    query = (
        sa.select(observation)
        .where(observation.c.id == observation_id, measurements_visible_to(principal, observation))
        .with_for_update()
    )
    return (await conn.execute(query)).first()


async def retract(
    conn: AsyncConnection, observation_id: str, version_id: int, values: Mapping[str, Any]
) -> Row[Any] | None:
    """Entered-in-error, only if the reading is still at ``version_id`` and not
    retracted: a conditional UPDATE, so a stale writer changes nothing."""
    statement = (
        sa.update(observation)
        .where(
            observation.c.id == observation_id,
            observation.c.version_id == version_id,
            NOT_RETRACTED,
        )
        .values(**values, status=ENTERED_IN_ERROR, version_id=version_id + 1)
        .returning(*observation.c)
    )
    return (await conn.execute(statement)).first()


async def keep_version(conn: AsyncConnection, values: Mapping[str, Any]) -> None:
    await conn.execute(sa.insert(version).values(**values))


async def version_visible(
    conn: AsyncConnection, principal: Principal, observation_id: str, version_id: int
) -> Row[Any] | None:
    """An earlier version of a reading the caller may read."""
    query = sa.select(version).where(
        version.c.observation_id == observation_id,
        version.c.version_id == version_id,
        measurements_visible_to(principal, version),
    )
    return (await conn.execute(query)).first()


async def reading(conn: AsyncConnection, observation_id: str) -> Row[Any] | None:
    return (
        await conn.execute(sa.select(observation).where(observation.c.id == observation_id))
    ).first()


async def evidence_as_of(
    conn: AsyncConnection,
    patient_id: str,
    between: tuple[datetime, datetime],
    received_by: datetime,
    limit: int,
) -> Sequence[Row[Any]]:
    """The patient's standing measurements taken in ``between`` that had arrived by
    ``received_by``: what a rule knew when it judged, less what has been retracted."""
    query: Any = (
        sa.select(
            observation.c.id,
            observation.c.device_id,
            observation.c.components,
            observation.c.effective_at,
            observation.c.received_at,
        )
        .where(
            observation.c.patient_id == patient_id,
            observation.c.kind == "measurement",
            NOT_RETRACTED,
            observation.c.effective_at.between(*between),
            observation.c.received_at <= received_by,
        )
        .order_by(observation.c.effective_at.desc())
        .limit(limit)
    )
    return (await conn.execute(query)).all()
