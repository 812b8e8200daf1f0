"""``/api/patients/{id}/planned-contacts``: the centre's next call, video call or visit.

For the patient's centre's nurses (planning, cancelling) and the patient (reading their
own, as the tablet does through ``/api/me/home``). A planned contact is a FHIR
Appointment in all but shape: its scopes are Appointment's.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from service.audit import service as audit
from service.auth.deps import ContactCanceller, ContactPlanner, ContactReader
from service.contacts import service as contacts
from service.contacts.schemas import PlannedContactCreate, PlannedContactRead
from service.deps import Db
from service.models_base import utcnow

router = APIRouter(prefix="/api/patients", tags=["Planned contacts"])
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such patient (or contact) within reach"}
}


@router.post("/{patient_id}/planned-contacts", status_code=201, responses=_NOT_FOUND)
async def plan_contact(
    patient_id: str, body: PlannedContactCreate, principal: ContactPlanner, db: Db
) -> PlannedContactRead:
    """Plan the next contact; the patient's tablet shows the soonest one."""
    planned = await contacts.plan(db, principal, patient_id, body, utcnow())
    await audit.record_row(
        db, principal, audit.CREATE, "create", "Appointment", planned.model_dump(), 201
    )
    return planned


@router.get("/{patient_id}/planned-contacts", responses=_NOT_FOUND)
async def upcoming_contacts(
    patient_id: str, principal: ContactReader, db: Db
) -> list[PlannedContactRead]:
    """The contacts not yet due and not cancelled, soonest first (at most 20)."""
    found = await contacts.upcoming(db, principal, patient_id, utcnow())
    await audit.record_search(
        db,
        principal,
        "Appointment",
        [("patient", patient_id)],
        [(c.patient_id, c.centre_id) for c in found],
        requested_patient=patient_id,
    )
    return list(found)


@router.post("/{patient_id}/planned-contacts/{contact_id}/cancel", responses=_NOT_FOUND)
async def cancel_contact(
    patient_id: str, contact_id: str, principal: ContactCanceller, db: Db
) -> PlannedContactRead:
    cancelled = await contacts.cancel(db, principal, patient_id, contact_id, utcnow())
    await audit.record_row(
        db, principal, audit.UPDATE, "update", "Appointment", cancelled.model_dump()
    )
    return cancelled
