"""A kit handed back, recorded from the patient page: the same ``devices.give_back`` and
audit record as ``POST /api/device-loans/{id}/return``. Readings from the device after
this are refused until it is lent again."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from starlette.responses import Response

from service.audit import service as audit
from service.console.deps import ConsoleForm
from service.console.patient_routes import render_patient
from service.deps import Db
from service.devices import service as devices
from service.devices.loans_router import record_loan
from service.devices.schemas import LoanReturn
from service.errors import ApiError, NotFound
from service.models_base import utcnow

router = APIRouter(prefix="/console", include_in_schema=False)


@router.post("/patients/{patient_id}/loans/{loan_id}/return")
async def return_device(patient_id: str, loan_id: str, form: ConsoleForm, db: Db) -> Response:
    page = form.page
    held = await devices.search(
        db, page.principal, device_id=None, patient_id=patient_id, open_only=True, limit=500
    )
    if loan_id not in {loan.id for loan in held}:
        raise NotFound("no such loan of this patient")
    skew = timedelta(seconds=page.state.settings.future_skew_seconds)
    try:
        loan = await devices.give_back(db, page.principal, loan_id, LoanReturn(), utcnow(), skew)
    except ApiError:  # returned by a colleague a moment ago, or a reading in the future
        return await render_patient(
            page, db, patient_id, 30, status=409, errors={"kit": "field.kit_return"}
        )
    await record_loan(db, page.principal, loan, audit.UPDATE, "update")
    return page.redirect(f"/console/patients/{patient_id}?done=kit_returned")
