"""``/api/device-loans``: the centre's nurses and admins lend a kit to a patient from a
date and record its return at a date. Each write is audited (a ``Device`` update of
the patient it concerns), each read too."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from service.audit import service as audit
from service.auth.deps import DeviceSearcher, DeviceUpdater
from service.auth.principal import Principal
from service.deps import Db, State
from service.devices import service as devices
from service.devices.schemas import LoanCreate, LoanRead, LoanReturn
from service.models_base import utcnow

router = APIRouter(prefix="/api", tags=["Device loans"])

_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "the device is lent out, was held after that date, or returned"}
}


@router.post(
    "/device-loans",
    status_code=201,
    responses={
        **_CONFLICT,
        404: {"description": "no such patient or device within the caller's reach"},
    },
)
async def lend_device(body: LoanCreate, principal: DeviceUpdater, db: Db, state: State) -> LoanRead:
    """Lend a device of the patient's centre to the patient from ``lent_at`` (default
    now). Readings from the device taken from then on are the patient's."""
    loan = await devices.lend(db, principal, body, utcnow(), _skew(state))
    await record_loan(db, principal, loan, audit.CREATE, "create")
    return loan


@router.post("/device-loans/{loan_id}/return", responses=_CONFLICT)
async def return_device(
    loan_id: str, body: LoanReturn, principal: DeviceUpdater, db: Db, state: State
) -> LoanRead:
    """The kit came back at ``returned_at`` (default now): later readings from it are
    refused until it is lent again."""
    loan = await devices.give_back(db, principal, loan_id, body, utcnow(), _skew(state))
    await record_loan(db, principal, loan, audit.UPDATE, "update")
    return loan


@router.get("/device-loans")
async def list_loans(
    request: Request,
    principal: DeviceSearcher,
    db: Db,
    device_id: Annotated[str | None, Query(max_length=36)] = None,
    patient_id: Annotated[str | None, Query(max_length=36)] = None,
    open: Annotated[bool, Query(description="only loans not yet returned")] = False,
) -> list[LoanRead]:
    """Loans of the caller's centres, newest first (at most 500)."""
    found = await devices.search(
        db, principal, device_id=device_id, patient_id=patient_id, open_only=open, limit=500
    )
    await audit.record_search(
        db,
        principal,
        "Device",
        request.query_params.multi_items(),
        [(loan.patient_id, loan.centre_id) for loan in found],
        requested_patient=patient_id,
    )
    return found


async def record_loan(
    db: AsyncConnection, principal: Principal, loan: LoanRead, action: str, subtype: str
) -> None:
    await audit.record(
        db,
        principal,
        action=action,
        subtype=subtype,
        resource_type="Device",
        resource_id=loan.device_id,
        patient_id=loan.patient_id,
        centre_id=loan.centre_id,
        status=201 if action == audit.CREATE else 200,
    )


def _skew(state: State) -> timedelta:
    return timedelta(seconds=state.settings.future_skew_seconds)
