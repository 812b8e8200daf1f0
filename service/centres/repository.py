"""Queries of follow-up centres."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal
from service.centres.models import Centre
from service.tenancy import centres_visible_to

centre = Centre.__table__  # type: ignore[attr-defined]


async def list_visible(conn: AsyncConnection, principal: Principal) -> Sequence[Row[tuple[Centre]]]:
    query = sa.select(centre).where(centres_visible_to(principal, centre)).order_by(centre.c.id)
    return (await conn.execute(query)).all()


async def get(conn: AsyncConnection, centre_id: str) -> Row[tuple[Centre]] | None:
    return (await conn.execute(sa.select(centre).where(centre.c.id == centre_id))).first()


async def upsert(conn: AsyncConnection, values: Mapping[str, Any]) -> None:
    if await get(conn, str(values["id"])) is None:
        await conn.execute(sa.insert(centre).values(**values))
