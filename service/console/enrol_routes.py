"""Enrolment: a new patient, their protocol and trial period, and the kit lent to them.

One form, one transaction: the patient through ``patients.enrol`` (the identity number
checked exactly as ``POST /fhir/Patient`` checks it, since it is the same call on the
same FHIR resource) and the first care plan through ``careplans.write``. A refusal is
shown at the field its FHIR ``expression`` names; then nothing is stored.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter
from pydantic import ValidationError
from starlette.responses import Response

import alerts
from service.audit import service as audit
from service.careplans import service as careplans
from service.careplans.schemas import CarePlanWrite
from service.console.deps import ConsoleForm, ConsolePage, Page
from service.deps import Db
from service.devices import kit as device_kit
from service.devices.loans_router import record_loan
from service.fhirkit.outcome import FhirError
from service.models_base import utcnow
from service.patients import service as patients
from service.patients.identity_number import (
    DNR_SYSTEM,
    FNR_SYSTEM,
    InvalidIdentityNumber,
    parse_identity_number,
)

router = APIRouter(prefix="/console/enrol", include_in_schema=False)

# The kit (gateway, tablet) lent to the patient: a gateway may name the patient by it.
KIT_SYSTEM = "urn:dho:kit"
# The measuring devices handed over, by the IEEE EUI-64 on their label (PHD IG): lent to
# the patient from enrolment, so their readings are the patient's.
DEVICE_SYSTEM = "urn:oid:1.2.840.10004.1.1.1.0.0.1.0.0.1.2680"
DEFAULT_TRIAL_DAYS = 28
# FHIR expressions of the enrolment's refusals, by the form field they concern.
_FIELDS = (
    ("Patient.identifier.system", "identity"),
    ("Patient.identifier.value", "identity"),
    ("Patient.identifier", "identity"),
    ("Patient.name", "family"),
    ("Patient.address", "municipality"),
    ("Patient.managingOrganization", "centre"),
    ("Patient.extension", "devices"),
)


def _may_enrol(page: Page) -> bool:
    return page.principal.allows("Patient", "c") and page.principal.allows("CarePlan", "u")


def _render(
    page: Page, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> Response:
    return page.render(
        "enrol.html",
        status_code=status,
        values=values,
        errors=errors,
        protocols=alerts.available_protocols(),
        default_trial=DEFAULT_TRIAL_DAYS,
    )


@router.get("")
async def enrol_page(page: ConsolePage) -> Response:
    if not _may_enrol(page):
        return page.render("not_for_role.html", status_code=403)
    return _render(
        page, {"centre": page.principal.centres[0] if page.principal.centres else ""}, {}
    )


def _resource(form: ConsoleForm) -> dict[str, Any]:
    number = form.get("identity").replace(" ", "")
    try:
        system = DNR_SYSTEM if parse_identity_number(number).kind == "dnr" else FNR_SYSTEM
    except InvalidIdentityNumber:
        system = FNR_SYSTEM  # enrol() refuses it with the reason, at this field
    identifiers = [{"system": system, "value": number}]
    if form.get("kit"):
        identifiers.append({"system": KIT_SYSTEM, "value": form.get("kit")})
    lent = [
        {"url": device_kit.LENT_DEVICE, "valueIdentifier": {"system": DEVICE_SYSTEM, "value": v}}
        for v in form.get("devices").replace(",", " ").split()
    ]
    return {
        "resourceType": "Patient",
        "extension": lent,
        "identifier": identifiers,
        "name": [{"family": form.get("family"), "given": form.get("given").split()}],
        "address": [{"district": form.get("municipality")}],
        "managingOrganization": {"reference": f"Organization/{form.get('centre')}"},
    }


def _field_of(error: FhirError) -> str:
    expressions = [e for issue in error.issues for e in issue.expression]
    for expression in expressions:
        for prefix, field in _FIELDS:
            if expression.startswith(prefix):
                return field
    return "form"


@router.post("")
async def enrol(form: ConsoleForm, db: Db) -> Response:
    page = form.page
    if not _may_enrol(page):
        return page.render("not_for_role.html", status_code=403)
    values = {k: form.get(k) for k in form.fields if k != "csrf"}
    errors: dict[str, str] = {}
    if not form.get("given"):
        errors["given"] = "field.given"
    if form.get("protocol") not in alerts.available_protocols():
        errors["protocol"] = "field.protocol"
    trial_text = form.get("trial_days") or str(DEFAULT_TRIAL_DAYS)
    if not trial_text.isdigit() or not 0 <= int(trial_text) <= 90:
        errors["trial_days"] = "field.trial_days"
    if errors:
        return _render(page, values, errors, 400)
    now = utcnow()
    days = int(trial_text)
    try:  # checked before anything is stored: nothing half-enrolled
        plan = CarePlanWrite(
            protocol=form.get("protocol"),
            reason=form.get("reason") or page.texts("enrol.default_reason"),
            trial_ends_at=now + timedelta(days=days) if days else None,
        )
    except ValidationError:
        return _render(page, values, {"reason": "field.plan_reason"}, 400)
    body = _resource(form)
    try:
        # A device that cannot be lent refuses the enrolment after the patient's row was
        # written: the savepoint takes that row back, so nothing is half-enrolled.
        async with db.begin_nested():
            resource = await patients.enrol(db, page.principal, body, page.state.vault)
            loans = await device_kit.lend_at_enrolment(
                db,
                page.principal,
                resource["id"],
                form.get("centre"),
                device_kit.kit_of(body),
                now,
            )
    except FhirError as error:
        field = _field_of(error)
        key = "field.duplicate" if error.status_code == 409 else f"field.{field}"
        if field == "devices":
            key = "field.device_lent" if error.status_code == 409 else "field.devices"
        return _render(page, values, {field: key}, error.status_code)
    patient_id = resource["id"]
    await audit.record(
        db,
        page.principal,
        action=audit.CREATE,
        subtype="create",
        resource_type="Patient",
        resource_id=patient_id,
        patient_id=patient_id,
        status=201,
    )
    for loan in loans:
        await record_loan(db, page.principal, loan, audit.CREATE, "create")
    await careplans.write(db, page.principal, patient_id, plan, now)
    await audit.record(
        db,
        page.principal,
        action=audit.UPDATE,
        subtype="update",
        resource_type="CarePlan",
        resource_id=patient_id,
        patient_id=patient_id,
    )
    return page.redirect(f"/console/patients/{patient_id}?done=enrolled")
