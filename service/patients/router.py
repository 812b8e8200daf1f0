"""FHIR Patient: enrolment by staff, read and search within the caller's reach."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from service.audit import service as audit
from service.auth.deps import PatientCreator, PatientReader, PatientSearcher
from service.auth.principal import Principal
from service.deps import Db, State
from service.devices import kit as device_kit
from service.devices.loans_router import record_loan
from service.fhirkit.body import read_fhir_body
from service.fhirkit.bundles import searchset
from service.fhirkit.outcome import FhirError
from service.fhirkit.params import positive_count
from service.fhirkit.responses import FhirResponse
from service.models_base import utcnow
from service.patients import service as patients

router = APIRouter(prefix="/fhir", tags=["FHIR patients"])


@router.post(
    "/Patient",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/fhir+json": {"schema": {"type": "object"}}},
        }
    },
    responses={409: {"description": "this person is already enrolled"}},
)
async def enrol_patient(
    request: Request, principal: PatientCreator, db: Db, state: State
) -> FhirResponse:
    """Enrol a patient in the follow-up centre named by ``managingOrganization``; the
    devices named by ``lent-device`` extensions are lent to them (``service.devices.kit``)."""
    body, _ = await read_fhir_body(request, state.settings)
    kit = device_kit.kit_of(body)
    resource = await patients.enrol(db, principal, body, state.vault)
    await _record(db, principal, audit.CREATE, "create", resource, status=201)
    lent = await device_kit.lend_at_enrolment(
        db, principal, resource["id"], _centre_of(resource), kit, utcnow()
    )
    for loan in lent:
        await record_loan(db, principal, loan, audit.CREATE, "create")
    location = f"{request.base_url}fhir/Patient/{resource['id']}/_history/1"
    return FhirResponse(resource, status_code=201, headers={"Location": location})


@router.get("/Patient/{patient_id}")
async def read_patient(
    patient_id: str, principal: PatientReader, db: Db, state: State
) -> FhirResponse:
    resource = await patients.read(db, principal, patient_id, state.vault)
    await _record(db, principal, audit.READ, "read", resource)
    return FhirResponse(resource)


@router.get("/Patient")
async def search_patients(
    request: Request, principal: PatientSearcher, db: Db, state: State
) -> FhirResponse:
    """The caller's patients; ``identifier=system|value`` finds one by identity number."""
    params = request.query_params
    unknown = sorted(set(params.keys()) - {"identifier", "_count", "_cursor"})
    if unknown:
        raise FhirError.one(
            400, "invalid", f"unsupported search parameter(s): {', '.join(unknown)}"
        )
    count_text = params.get("_count", str(state.settings.default_page_size))
    if positive_count(count_text, 1) is None:
        raise FhirError.one(400, "invalid", "_count must be a positive integer", "_count")
    resources, next_after = await patients.search(
        db,
        principal,
        state.vault,
        identifier=params.get("identifier"),
        after_id=params.get("_cursor"),
        limit=min(int(count_text), state.settings.max_page_size),
    )
    found = [(r["id"], _centre_of(r)) for r in resources]
    await audit.record_search(db, principal, "Patient", params.multi_items(), found)
    return FhirResponse(searchset(request, resources, next_after))


async def _record(
    db: AsyncConnection,
    principal: Principal,
    action: str,
    subtype: str,
    resource: dict[str, Any],
    *,
    status: int = 200,
) -> None:
    await audit.record(
        db,
        principal,
        action=action,
        subtype=subtype,
        resource_type="Patient",
        resource_id=resource["id"],
        patient_id=resource["id"],
        centre_id=_centre_of(resource),
        status=status,
    )


def _centre_of(resource: dict[str, Any]) -> str:
    reference: str = resource["managingOrganization"]["reference"]
    return reference.removeprefix("Organization/")
