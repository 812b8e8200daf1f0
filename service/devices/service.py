"""Lending and return of devices by the centre's staff (and at enrolment).

Every query carries the caller's reach (``service.tenancy``): a device, a patient or a
loan of another centre is "not found", exactly as one that does not exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal, Role
from service.devices import loans, repository
from service.devices.schemas import DeviceIdentifier, LoanCreate, LoanRead, LoanReturn
from service.errors import ApiError, Conflict, Forbidden, NotFound
from service.models_base import new_id
from service.patients import repository as patients

_LENDERS = frozenset({Role.nurse, Role.admin})


async def lend(
    conn: AsyncConnection, principal: Principal, body: LoanCreate, now: datetime, skew: timedelta
) -> LoanRead:
    _must_be_staff(principal)
    patient = await patients.get_visible(conn, principal, body.patient_id)
    if patient is None:
        raise NotFound("no such patient")
    if patient.status == "ended":
        raise Conflict("the patient's follow-up has ended")
    lent_at = body.lent_at or now
    if lent_at > now + skew:
        raise ApiError("lent_at: in the future")
    if body.device_identifier is not None:
        device_id = await _device_by_identifier(
            conn, patient.centre_id, body.device_identifier, now
        )
    else:
        assert body.device_id is not None
        row = await repository.get_visible(conn, principal, body.device_id)
        if row is None or row.centre_id != patient.centre_id:
            raise NotFound("no such device in the patient's centre")
        device_id = row.id
    return await _open(conn, principal, device_id, patient.centre_id, patient.id, lent_at, now)


async def lend_kit(
    conn: AsyncConnection,
    principal: Principal,
    patient_id: str,
    centre_id: str,
    kit: Sequence[DeviceIdentifier],
    lent_at: datetime,
    now: datetime,
) -> list[LoanRead]:
    """Enrolment's kit: each device (registered if new) lent to the new patient."""
    _must_be_staff(principal)
    lent = []
    for identifier in kit:
        device_id = await _device_by_identifier(conn, centre_id, identifier, now)
        lent.append(await _open(conn, principal, device_id, centre_id, patient_id, lent_at, now))
    return lent


async def give_back(
    conn: AsyncConnection,
    principal: Principal,
    loan_id: str,
    body: LoanReturn,
    now: datetime,
    skew: timedelta,
) -> LoanRead:
    _must_be_staff(principal)
    row = await repository.get_loan_visible(conn, principal, loan_id)
    if row is None:
        raise NotFound("no such loan")
    if row.returned_at is not None:
        raise Conflict("the device was already returned")
    returned_at = body.returned_at or now
    if returned_at > now + skew:
        raise ApiError("returned_at: in the future")
    if returned_at < row.lent_at:
        raise ApiError("returned_at: before the device was lent")
    last = await repository.last_reading_at(conn, row.device_id, row.patient_id)
    if last is not None and returned_at <= last:
        raise Conflict(
            "the patient has readings from this device at or after that time: "
            "return it after their last reading"
        )
    if not await repository.close_loan(conn, row.id, returned_at, principal.subject):
        raise Conflict("the device was already returned")
    returned = await repository.get_loan_visible(conn, principal, loan_id)
    assert returned is not None
    return _read(returned)


async def search(
    conn: AsyncConnection,
    principal: Principal,
    *,
    device_id: str | None,
    patient_id: str | None,
    open_only: bool,
    limit: int,
) -> list[LoanRead]:
    rows = await repository.search_loans_visible(
        conn,
        principal,
        device_id=device_id,
        patient_id=patient_id,
        open_only=open_only,
        limit=limit,
    )
    return [_read(r) for r in rows]


def _must_be_staff(principal: Principal) -> None:
    if principal.role not in _LENDERS:
        raise Forbidden("only the centre's nurses and admins lend devices")


async def _device_by_identifier(
    conn: AsyncConnection, centre_id: str, identifier: DeviceIdentifier, now: datetime
) -> str:
    """The centre's device with this identifier; a kit never seen is registered."""
    resource = {
        "resourceType": "Device",
        "identifier": [{"system": identifier.system, "value": identifier.value}],
    }
    row, _ = await repository.insert_if_absent(
        conn,
        {
            "id": new_id(),
            "centre_id": centre_id,
            "identifier_system": identifier.system,
            "identifier_value": identifier.value,
            "resource": orjson.dumps(resource).decode(),
            "clock_doubtful": False,
            "version_id": 1,
            "created_at": now,
        },
    )
    return str(row.id)


async def _open(
    conn: AsyncConnection,
    principal: Principal,
    device_id: str,
    centre_id: str,
    patient_id: str,
    lent_at: datetime,
    now: datetime,
) -> LoanRead:
    history = (await loans.loans_of(conn, [device_id]))[device_id]
    if loans.current_holder(history) is not None:
        raise Conflict("the device is lent out: record its return first")
    if any(loan.returned_at is not None and loan.returned_at > lent_at for loan in history):
        raise Conflict("the device was held by a patient after that time")
    loan_id = await loans.insert(
        conn,
        device_id=device_id,
        centre_id=centre_id,
        patient_id=patient_id,
        lent_at=lent_at,
        lent_by=principal.subject,
        now=now,
    )
    if loan_id is None:
        raise Conflict("the device is lent out: record its return first")
    row = await repository.get_loan_visible(conn, principal, loan_id)
    assert row is not None
    return _read(row)


def _read(row: Row[Any]) -> LoanRead:
    return LoanRead.model_validate(row._mapping, from_attributes=False)
