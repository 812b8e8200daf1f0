"""Setting and reading a municipality's cost model, for the API and ``dho cost-model``.

Who: an admin of the centre sets prices for a municipality the centre serves; whoever
may read the centre's evaluation (its leaders, its admins) reads them, since every
kroner figure prints them. Setting is audited as an admin action (resource
``CostModel``, the centre, no patient), reading as a read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from service.audit import service as audit
from service.auth.principal import Principal, Role
from service.cost_models import repository
from service.cost_models.models import PRICES
from service.cost_models.schemas import CostModelRead, CostModelWrite, Prices
from service.errors import Forbidden, NotFound
from service.models_base import new_id


async def put(
    conn: AsyncConnection,
    principal: Principal,
    centre_id: str,
    municipality: str,
    body: CostModelWrite,
    now: datetime,
) -> list[CostModelRead]:
    if principal.role is not Role.admin:
        raise Forbidden("only an admin of the centre sets its cost models")
    centre = await repository.managed_centre(conn, principal, centre_id)
    return await _put(conn, principal, centre, centre_id, municipality, body, now)


async def load(
    conn: AsyncConnection,
    operator: Principal,
    centre_id: str,
    municipality: str,
    body: CostModelWrite,
    now: datetime,
) -> list[CostModelRead]:
    """The operator's file import: any centre, the same checks and audit otherwise."""
    centre = await repository.any_centre(conn, centre_id)
    return await _put(conn, operator, centre, centre_id, municipality, body, now)


async def _put(
    conn: AsyncConnection,
    principal: Principal,
    centre: Any,
    centre_id: str,
    municipality: str,
    body: CostModelWrite,
    now: datetime,
) -> list[CostModelRead]:
    if centre is None:
        raise NotFound("no such centre")
    if municipality not in centre.municipalities:
        raise NotFound("the centre does not serve this municipality")
    row_id = new_id()
    await repository.put(
        conn,
        {
            "id": row_id,
            "centre_id": centre_id,
            "municipality": municipality,
            "valid_from": body.valid_from,
            **body.prices.model_dump(),
            "sources": body.sources,
            "set_by": principal.subject,
            "set_at": now,
        },
    )
    versions = await _versions(conn, centre_id, municipality)
    stored = next(v for v in versions if v.valid_from == body.valid_from)
    await _audit(conn, principal, audit.UPDATE, "update", centre_id, municipality, stored)
    return versions


async def read(
    conn: AsyncConnection, principal: Principal, centre_id: str, municipality: str
) -> list[CostModelRead]:
    """Every version, newest first (an empty list: no model set, so no kroner)."""
    centre = await repository.readable_centre(conn, principal, centre_id)
    if centre is None:
        raise NotFound("no such centre")
    if municipality not in centre.municipalities:
        raise NotFound("the centre does not serve this municipality")
    versions = await _versions(conn, centre_id, municipality)
    await _audit(conn, principal, audit.READ, "read", centre_id, municipality, None)
    return versions


async def in_force(conn: AsyncConnection, centre_id: str, on: date) -> dict[str, CostModelRead]:
    """Per municipality, the model valid on ``on``; for the evaluation, which has
    checked the caller's reach of the centre."""
    return {row.municipality: _read(row) for row in await repository.in_force(conn, centre_id, on)}


async def _versions(
    conn: AsyncConnection, centre_id: str, municipality: str
) -> list[CostModelRead]:
    return [_read(row) for row in await repository.versions(conn, centre_id, municipality)]


def _read(row: Any) -> CostModelRead:
    values: Mapping[str, Any] = row._mapping
    return CostModelRead(
        centre_id=row.centre_id,
        municipality=row.municipality,
        valid_from=row.valid_from,
        prices=Prices(**{name: values[name] for name in PRICES}),
        sources=row.sources,
        set_by=row.set_by,
        set_at=row.set_at,
    )


async def _audit(
    conn: AsyncConnection,
    principal: Principal,
    action: str,
    subtype: str,
    centre_id: str,
    municipality: str,
    stored: CostModelRead | None,
) -> None:
    query = f"municipality={municipality}"
    if stored is not None:
        query += f"&valid_from={stored.valid_from.isoformat()}"
    await audit.record(
        conn,
        principal,
        action=action,
        subtype=subtype,
        resource_type="CostModel",
        centre_id=centre_id,
        query=query,
    )
