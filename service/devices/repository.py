"""Devices by id or by identifier, within one centre."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.devices.models import Device

device = Device.__table__  # type: ignore[attr-defined]


async def get(conn: AsyncConnection, device_id: str) -> Row[Any] | None:
    """By our id. Callers confine the result by its centre or patient."""
    return (await conn.execute(sa.select(device).where(device.c.id == device_id))).first()


async def set_clock(
    conn: AsyncConnection, device_id: str, offset_seconds: float | None, doubtful: bool
) -> None:
    await conn.execute(
        sa.update(device)
        .where(device.c.id == device_id)
        .values(clock_offset_seconds=offset_seconds, clock_doubtful=doubtful)
    )


async def find_by_identifier(
    conn: AsyncConnection, centre_id: str, system: str, value: str
) -> Row[Any] | None:
    query = sa.select(device).where(
        device.c.centre_id == centre_id,
        device.c.identifier_system == system,
        device.c.identifier_value == value,
    )
    return (await conn.execute(query)).first()


async def insert_if_absent(conn: AsyncConnection, values: dict[str, Any]) -> Row[Any]:
    """Conditional create: two gateways registering the same device at once get one row."""
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = dialect_insert(device).on_conflict_do_nothing(
        index_elements=["centre_id", "identifier_system", "identifier_value"]
    )
    await conn.execute(statement.values(**values))
    row = await find_by_identifier(
        conn, values["centre_id"], values["identifier_system"], values["identifier_value"]
    )
    assert row is not None
    return row
