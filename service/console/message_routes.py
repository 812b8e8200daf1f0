"""A nurse answers a patient's message from the patient page, as a plain form post.

The page builds the same FHIR ``Communication`` a client would send and hands it to the
messages service, so the rules (one text, its length, the minutes) are the API's; a
refusal comes back at the field it concerns.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from service.audit import service as audit
from service.console.deps import ConsoleForm
from service.console.patient_routes import render_patient
from service.deps import Db
from service.fhirkit.outcome import FhirError
from service.messages import fhir_mapping
from service.messages import service as messages
from service.models_base import utcnow

router = APIRouter(prefix="/console", include_in_schema=False)

# Where a refusal of the API's names an element, the page's field that holds it.
_FIELDS = {"Communication.payload": "message_text", "Communication.extension": "message_minutes"}


@router.post("/patients/{patient_id}/messages")
async def reply(patient_id: str, form: ConsoleForm, db: Db) -> Response:
    page = form.page
    values = {"message_text": form.get("text"), "message_minutes": form.get("minutes")}
    resource: dict[str, Any] = {
        "resourceType": "Communication",
        "status": "completed",
        "subject": {"reference": f"Patient/{patient_id}"},
        "payload": [{"contentString": form.get("text") or ""}],
    }
    if form.get("form_id"):
        # One page's form is one message, even if the browser posts it twice.
        resource["identifier"] = [{"system": "urn:dho:console-form", "value": form.get("form_id")}]
    minutes = _minutes(form.get("minutes"))
    if minutes is not None:
        resource["extension"] = [{"url": fhir_mapping.MINUTES_URL, "valueDecimal": minutes}]
    settings, now = page.state.settings, utcnow()
    try:
        sent = await messages.send_resource(db, page.principal, resource, settings, now)
    except FhirError as error:
        where = (error.issues[0].expression or [""])[0] if error.issues else ""
        field = _FIELDS.get(where, "message_text")
        return await render_patient(
            page, db, patient_id, 30, status=400, errors={field: f"field.{field}"}, values=values
        )
    await audit.record_row(db, page.principal, audit.CREATE, "create", "Communication", sent.row)
    return page.redirect(f"/console/patients/{patient_id}?done=message#messages")


def _minutes(text: str | None) -> float | str | None:
    """The minutes field as typed: a number, or the text itself for the rules to refuse."""
    if not text or not text.strip():
        return None
    try:
        return float(text.replace(",", "."))
    except ValueError:
        return text
