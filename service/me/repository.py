"""What the home screen reads of the patient's own readings; every query carries the
caller's reach (a patient: their own rows only)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal
from service.ingest.models import ENTERED_IN_ERROR
from service.ingest.repository import observation
from service.questionnaires.repository import response_table as response
from service.tenancy import measurements_visible_to


def _measurements_of(principal: Principal, patient_id: str) -> Any:
    return sa.and_(
        observation.c.patient_id == patient_id,
        observation.c.kind == "measurement",
        observation.c.status != ENTERED_IN_ERROR,
        measurements_visible_to(principal, observation),
    )


async def last_seen(
    conn: AsyncConnection, principal: Principal, patient_id: str
) -> dict[str, datetime]:
    """When each measurement was last taken (retracted readings never count)."""
    query = (
        sa.select(observation.c.measurement, sa.func.max(observation.c.effective_at))
        .where(_measurements_of(principal, patient_id))
        .group_by(observation.c.measurement)
    )
    return {str(m): at for m, at in (await conn.execute(query)).all()}


async def recent(
    conn: AsyncConnection, principal: Principal, patient_id: str, limit: int
) -> Sequence[Row[Any]]:
    """The latest readings, newest first (by when they were taken)."""
    query = (
        sa.select(observation)
        .where(_measurements_of(principal, patient_id))
        .order_by(observation.c.effective_at.desc(), observation.c.id.desc())
        .limit(limit)
    )
    return (await conn.execute(query)).all()


async def last_answered(
    conn: AsyncConnection, principal: Principal, patient_id: str, questionnaire: str
) -> datetime | None:
    """When the patient last answered the form at ``questionnaire`` (its canonical URL)."""
    query = sa.select(sa.func.max(response.c.authored_at)).where(
        response.c.patient_id == patient_id,
        response.c.questionnaire == questionnaire,
        measurements_visible_to(principal, response),
    )
    answered: datetime | None = (await conn.execute(query)).scalar_one_or_none()
    return answered
