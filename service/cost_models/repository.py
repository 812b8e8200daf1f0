"""Queries of cost models, each within the caller's reach (``service.tenancy``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal
from service.centres.models import Centre
from service.cost_models.models import CostModel
from service.tenancy import centres_managed_by, evaluation_centres_visible_to

centre = Centre.__table__  # type: ignore[attr-defined]
model = CostModel.__table__  # type: ignore[attr-defined]


async def managed_centre(
    conn: AsyncConnection, principal: Principal, centre_id: str
) -> Row[Any] | None:
    """The centre, when the caller is an admin of it."""
    query = sa.select(centre.c.id, centre.c.municipalities).where(
        centre.c.id == centre_id, centres_managed_by(principal, centre)
    )
    return (await conn.execute(query)).first()


async def readable_centre(
    conn: AsyncConnection, principal: Principal, centre_id: str
) -> Row[Any] | None:
    """The centre, when the caller may read its evaluation (its prices are part of it)."""
    query = sa.select(centre.c.id, centre.c.municipalities).where(
        centre.c.id == centre_id, evaluation_centres_visible_to(principal, centre)
    )
    return (await conn.execute(query)).first()


async def any_centre(conn: AsyncConnection, centre_id: str) -> Row[Any] | None:
    """For the operator's ``dho cost-model load`` only, never for a request."""
    query = sa.select(centre.c.id, centre.c.municipalities).where(centre.c.id == centre_id)
    return (await conn.execute(query)).first()


async def put(conn: AsyncConnection, values: Mapping[str, Any]) -> None:
    """Insert the version, or replace the prices of the one with the same ``valid_from``."""
    key = (
        model.c.centre_id == values["centre_id"],
        model.c.municipality == values["municipality"],
        model.c.valid_from == values["valid_from"],
    )
    changes = {k: v for k, v in values.items() if k != "id"}
    updated = await conn.execute(sa.update(model).where(*key).values(**changes))
    if not updated.rowcount:
        await conn.execute(sa.insert(model).values(**values))


async def versions(conn: AsyncConnection, centre_id: str, municipality: str) -> Sequence[Row[Any]]:
    """Every version, newest first; the caller has checked the centre is within reach."""
    query = (
        sa.select(model)
        .where(model.c.centre_id == centre_id, model.c.municipality == municipality)
        .order_by(model.c.valid_from.desc())
    )
    return (await conn.execute(query)).all()


async def in_force(conn: AsyncConnection, centre_id: str, on: date) -> Sequence[Row[Any]]:
    """Per municipality of the centre, the version valid on ``on`` (the latest
    ``valid_from`` not after it); the caller has checked the centre is within reach."""
    query = (
        sa.select(model)
        .where(model.c.centre_id == centre_id, model.c.valid_from <= on)
        .order_by(model.c.municipality, model.c.valid_from)
    )
    newest: dict[str, Row[Any]] = {}
    for row in (await conn.execute(query)).all():
        newest[row.municipality] = row
    return list(newest.values())
