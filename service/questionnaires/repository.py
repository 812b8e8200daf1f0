"""Storing and finding answers; every query carries the caller's reach (service.tenancy)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal
from service.database import insert_once
from service.questionnaires.models import QuestionnaireResponseRow
from service.tenancy import measurements_visible_to

response_table = QuestionnaireResponseRow.__table__  # type: ignore[attr-defined]


async def insert_new(conn: AsyncConnection, row: dict[str, Any]) -> bool:
    """Insert unless the same answer is stored; a race between two resends ends in the
    database, not between two checks."""
    statement = insert_once(response_table, conn.dialect.name, ("patient_id", "dedup_key"))
    result = await conn.execute(statement, [row])
    return result.first() is not None


async def find_by_dedup(conn: AsyncConnection, patient_id: str, dedup_key: str) -> Row[Any]:
    query = sa.select(response_table).where(
        response_table.c.patient_id == patient_id, response_table.c.dedup_key == dedup_key
    )
    return (await conn.execute(query)).one()


async def set_score_observation(
    conn: AsyncConnection, response_id: str, observation_id: str
) -> None:
    await conn.execute(
        sa.update(response_table)
        .where(response_table.c.id == response_id)
        .values(score_observation_id=observation_id)
    )


async def get_visible(
    conn: AsyncConnection, principal: Principal, response_id: str
) -> Row[Any] | None:
    query = sa.select(response_table).where(
        response_table.c.id == response_id, measurements_visible_to(principal, response_table)
    )
    return (await conn.execute(query)).first()


async def search_visible(
    conn: AsyncConnection,
    principal: Principal,
    *,
    patient_id: str | None,
    questionnaire: str | None,
    version: str | None,
    authored_bounds: Sequence[tuple[str, datetime]],
    after: tuple[datetime, str] | None,
    limit: int,
) -> Sequence[Row[Any]]:
    """Newest first; `after` is the last (authored_at, id) of the previous page, so paging
    stays stable while new answers arrive."""
    table = response_table
    query = sa.select(table).where(measurements_visible_to(principal, table))
    if patient_id is not None:
        query = query.where(table.c.patient_id == patient_id)
    if questionnaire is not None:
        query = query.where(table.c.questionnaire == questionnaire)
    if version is not None:
        query = query.where(table.c.questionnaire_version == version)
    for operator, bound in authored_bounds:
        query = query.where(
            {
                "ge": table.c.authored_at >= bound,
                "lt": table.c.authored_at < bound,
            }[operator]
        )
    if after is not None:
        query = query.where(sa.tuple_(table.c.authored_at, table.c.id) < tuple(after))
    query = query.order_by(table.c.authored_at.desc(), table.c.id.desc())
    return (await conn.execute(query.limit(limit))).all()
