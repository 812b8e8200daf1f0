"""Queries of follow-up centres."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal
from service.centres.models import Centre
from service.tenancy import centres_managed_by, centres_visible_to

centre = Centre.__table__  # type: ignore[attr-defined]


async def list_visible(conn: AsyncConnection, principal: Principal) -> Sequence[Row[tuple[Centre]]]:
    query = sa.select(centre).where(centres_visible_to(principal, centre)).order_by(centre.c.id)
    return (await conn.execute(query)).all()


async def get_visible(
    conn: AsyncConnection, principal: Principal, centre_id: str
) -> Row[tuple[Centre]] | None:
    query = sa.select(centre).where(centre.c.id == centre_id, centres_visible_to(principal, centre))
    return (await conn.execute(query)).first()


async def list_all(conn: AsyncConnection) -> Sequence[Row[tuple[Centre]]]:
    """Every centre: for the operator's ``dho centre list``, never for a request."""
    return (await conn.execute(sa.select(centre).order_by(centre.c.id))).all()


async def insert(conn: AsyncConnection, values: Mapping[str, Any]) -> bool:
    """Insert a new centre; False when the id is taken (two admins racing included)."""
    if await get(conn, str(values["id"])) is not None:
        return False
    try:
        async with conn.begin_nested():
            await conn.execute(sa.insert(centre).values(**values))
    except sa.exc.IntegrityError:
        return False
    return True


async def update_managed(
    conn: AsyncConnection, principal: Principal, centre_id: str, values: Mapping[str, Any]
) -> bool:
    """Change a centre the caller manages; False when it is not theirs (or not there)."""
    query = (
        sa.update(centre)
        .where(centre.c.id == centre_id, centres_managed_by(principal, centre))
        .values(**values)
        .returning(centre.c.id)
    )
    return (await conn.execute(query)).first() is not None


async def exists_managed(conn: AsyncConnection, principal: Principal, centre_id: str) -> bool:
    query = sa.select(centre.c.id).where(
        centre.c.id == centre_id, centres_managed_by(principal, centre)
    )
    return (await conn.execute(query)).first() is not None


async def get(conn: AsyncConnection, centre_id: str) -> Row[tuple[Centre]] | None:
    return (await conn.execute(sa.select(centre).where(centre.c.id == centre_id))).first()


async def upsert(conn: AsyncConnection, values: Mapping[str, Any]) -> None:
    if await get(conn, str(values["id"])) is None:
        await conn.execute(sa.insert(centre).values(**values))
