"""Planning and cancelling a contact from the patient page, as plain form posts, through
the same ``contacts`` service and audit records as ``/api/patients/{id}/planned-contacts``.
The time is typed in the centre's local time (``datetime-local``)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import ValidationError
from starlette.responses import Response

from service.audit import service as audit
from service.console.deps import ConsoleForm
from service.console.patient_routes import render_patient
from service.contacts import service as contacts
from service.contacts.schemas import PlannedContactCreate
from service.deps import Db
from service.errors import ApiError, NotFound
from service.models_base import utcnow

router = APIRouter(prefix="/console", include_in_schema=False)


@router.post("/patients/{patient_id}/contacts")
async def plan(patient_id: str, form: ConsoleForm, db: Db) -> Response:
    page = form.page
    typed = form.get("when")
    try:
        local = datetime.fromisoformat(typed).replace(tzinfo=page.state.local_zone)
        body = PlannedContactCreate(planned_at=local, kind=form.get("kind"))
        planned = await contacts.plan(db, page.principal, patient_id, body, utcnow())
    except (ValueError, ValidationError, ApiError) as error:
        if isinstance(error, NotFound):
            raise
        return await render_patient(
            page,
            db,
            patient_id,
            30,
            status=400,
            errors={"contact_when": "field.contact_when"},
            values={"contact_when": typed[:16]},
        )
    await audit.record_row(
        db, page.principal, audit.CREATE, "create", "Appointment", planned.model_dump(), 201
    )
    return page.redirect(f"/console/patients/{patient_id}?done=contact_planned#contacts")


@router.post("/patients/{patient_id}/contacts/{contact_id}/cancel")
async def cancel(patient_id: str, contact_id: str, form: ConsoleForm, db: Db) -> Response:
    cancelled = await contacts.cancel(db, form.page.principal, patient_id, contact_id, utcnow())
    await audit.record_row(
        db, form.page.principal, audit.UPDATE, "update", "Appointment", cancelled.model_dump()
    )
    return form.page.redirect(f"/console/patients/{patient_id}?done=contact_cancelled#contacts")
