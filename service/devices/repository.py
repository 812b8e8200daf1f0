"""Devices by id or by identifier, and their loans. Reads for callers are restricted
in the query (``service.tenancy``); ingest's lookups are confined by its callers, who
compare the device's centre with the patient's."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal
from service.devices.models import Device, DeviceLoan
from service.ingest.models import Observation
from service.patients.models import Patient
from service.tenancy import device_loans_visible_to, devices_visible_to

device = Device.__table__  # type: ignore[attr-defined]
loan = DeviceLoan.__table__  # type: ignore[attr-defined]
_patient = Patient.__table__  # type: ignore[attr-defined]
_observation = Observation.__table__  # type: ignore[attr-defined]


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


async def insert_if_absent(conn: AsyncConnection, values: dict[str, Any]) -> tuple[Row[Any], bool]:
    """Conditional create: two gateways registering the same device at once get one
    row. Answers the row and whether this call created it."""
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = dialect_insert(device).on_conflict_do_nothing(
        index_elements=["centre_id", "identifier_system", "identifier_value"]
    )
    result = await conn.execute(statement.values(**values))
    row = await find_by_identifier(
        conn, values["centre_id"], values["identifier_system"], values["identifier_value"]
    )
    assert row is not None
    return row, result.rowcount == 1


async def update_resource(
    conn: AsyncConnection, device_id: str, resource: str, kind: str | None, now: datetime
) -> None:
    await conn.execute(
        sa.update(device)
        .where(device.c.id == device_id)
        .values(resource=resource, kind=kind, version_id=device.c.version_id + 1, updated_at=now)
    )


async def get_visible(
    conn: AsyncConnection, principal: Principal, device_id: str
) -> Row[Any] | None:
    query = sa.select(device).where(
        device.c.id == device_id, devices_visible_to(principal, device, loan)
    )
    return (await conn.execute(query)).first()


async def search_visible(
    conn: AsyncConnection,
    principal: Principal,
    *,
    identifier: tuple[str | None, str] | None,
    patient_id: str | None,
    after_id: str | None,
    limit: int,
) -> Sequence[Row[Any]]:
    query = sa.select(device).where(devices_visible_to(principal, device, loan))
    if identifier is not None:
        system, value = identifier
        query = query.where(device.c.identifier_value == value)
        if system is not None:
            query = query.where(device.c.identifier_system == system)
    if patient_id is not None:
        query = query.where(
            sa.exists().where(
                loan.c.device_id == device.c.id,
                loan.c.patient_id == patient_id,
                loan.c.returned_at.is_(None),
            )
        )
    if after_id is not None:
        query = query.where(device.c.id > after_id)
    return (await conn.execute(query.order_by(device.c.id).limit(limit))).all()


# --- loans ---------------------------------------------------------------------------


async def loans_of_devices(
    conn: AsyncConnection, device_ids: Sequence[str]
) -> dict[str, list[Row[Any]]]:
    """Every loan of these devices, oldest first: a device has a handful, and a Bundle
    of hundreds of readings from one device then needs one query to place them all."""
    found: dict[str, list[Row[Any]]] = {d: [] for d in device_ids}
    if not device_ids:
        return found
    query = (
        sa.select(loan)
        .where(loan.c.device_id.in_(list(device_ids)))
        .order_by(loan.c.device_id, loan.c.lent_at)
    )
    for row in await conn.execute(query):
        found[row.device_id].append(row)
    return found


async def insert_loan(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(sa.insert(loan).values(**values))


async def move_loan_start(conn: AsyncConnection, loan_id: str, lent_at: datetime) -> None:
    """Only ever earlier: two requests reaching back at once both leave the earliest."""
    await conn.execute(
        sa.update(loan)
        .where(loan.c.id == loan_id, loan.c.lent_at > lent_at)
        .values(lent_at=lent_at)
    )


def _loans_with_devices() -> Any:
    """A loan with what a nurse reads on the device's label: its kind and identifier."""
    return sa.select(
        loan, device.c.kind.label("device_kind"), device.c.identifier_value.label("device_label")
    ).join(device, device.c.id == loan.c.device_id)


async def get_loan_visible(
    conn: AsyncConnection, principal: Principal, loan_id: str
) -> Row[Any] | None:
    query = _loans_with_devices().where(
        loan.c.id == loan_id, device_loans_visible_to(principal, loan)
    )
    return (await conn.execute(query)).first()


async def close_loan(
    conn: AsyncConnection, loan_id: str, returned_at: datetime, returned_by: str
) -> bool:
    """Return the loan if it is still open: of two concurrent returns one wins."""
    result = await conn.execute(
        sa.update(loan)
        .where(loan.c.id == loan_id, loan.c.returned_at.is_(None))
        .values(returned_at=returned_at, returned_by=returned_by)
    )
    return result.rowcount == 1


async def search_loans_visible(
    conn: AsyncConnection,
    principal: Principal,
    *,
    device_id: str | None,
    patient_id: str | None,
    open_only: bool,
    limit: int,
) -> Sequence[Row[Any]]:
    query = _loans_with_devices().where(device_loans_visible_to(principal, loan))
    if device_id is not None:
        query = query.where(loan.c.device_id == device_id)
    if patient_id is not None:
        query = query.where(loan.c.patient_id == patient_id)
    if open_only:
        query = query.where(loan.c.returned_at.is_(None))
    query = query.order_by(loan.c.lent_at.desc(), loan.c.id).limit(limit)
    return (await conn.execute(query)).all()


async def patient_enrolled_at(conn: AsyncConnection, patient_id: str) -> datetime | None:
    query = sa.select(_patient.c.enrolled_at).where(_patient.c.id == patient_id)
    value: datetime | None = (await conn.execute(query)).scalar_one_or_none()
    return value


async def last_reading_at(
    conn: AsyncConnection, device_id: str, patient_id: str
) -> datetime | None:
    """When the patient's latest reading from the device was taken: a return dated
    before it would leave that reading filed under someone who no longer held it."""
    query = sa.select(sa.func.max(_observation.c.effective_at)).where(
        _observation.c.device_id == device_id, _observation.c.patient_id == patient_id
    )
    value: datetime | None = (await conn.execute(query)).scalar_one_or_none()
    return value
