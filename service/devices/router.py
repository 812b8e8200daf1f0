"""FHIR Device: create, update, update-as-create, conditional update, read and search
(PHD IG server capability). Bundle entries take the same paths
(``service.ingest.bundle``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.audit import service as audit
from service.auth.deps import DeviceCreator, DeviceReader, DeviceSearcher, DeviceUpdater
from service.auth.principal import Principal, Role
from service.deps import Db, State
from service.devices import loans, repository
from service.devices import resources as device_resources
from service.fhirkit.body import read_fhir_body
from service.fhirkit.bundles import searchset
from service.fhirkit.outcome import FhirError, not_found
from service.fhirkit.params import positive_count
from service.fhirkit.responses import FhirResponse
from service.models_base import utcnow
from service.patients import repository as patients

router = APIRouter(prefix="/fhir", tags=["FHIR devices"])

_FHIR_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/fhir+json": {"schema": {"type": "object"}}},
    }
}
_IF_NONE_EXIST = {
    "name": "If-None-Exist",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "identifier=system|value: answer the device already registered",
}
_IDENTIFIER = {
    "name": "identifier",
    "in": "query",
    "required": True,
    "schema": {"type": "string"},
    "description": "system|value of the device to update (or create)",
}


@router.post(
    "/Device", status_code=201, openapi_extra={**_FHIR_BODY, "parameters": [_IF_NONE_EXIST]}
)
async def create_device(
    request: Request, principal: DeviceCreator, db: Db, state: State
) -> FhirResponse:
    """Register a device (200 with the registered one if its identifier is known)."""
    condition = request.headers.get("if-none-exist")
    target = device_resources.target_of("POST", "Device", condition, "If-None-Exist")
    return await _write(request, principal, db, state, target)


@router.put("/Device", openapi_extra={**_FHIR_BODY, "parameters": [_IDENTIFIER]})
async def update_device_by_identifier(
    request: Request, principal: DeviceUpdater, db: Db, state: State
) -> FhirResponse:
    """Conditional update: the device with this identifier, created if there is none."""
    query = request.url.query
    target = device_resources.target_of("PUT", f"Device?{query}", None, "identifier")
    return await _write(request, principal, db, state, target)


@router.put("/Device/{device_id}", openapi_extra=_FHIR_BODY)
async def update_device(
    device_id: str, request: Request, principal: DeviceUpdater, db: Db, state: State
) -> FhirResponse:
    """Update, or create with this id (update-as-create)."""
    target = device_resources.target_of("PUT", f"Device/{device_id}", None, "Device.id")
    return await _write(request, principal, db, state, target)


@router.get("/Device/{device_id}")
async def read_device(device_id: str, principal: DeviceReader, db: Db) -> FhirResponse:
    row = await repository.get_visible(db, principal, device_id)
    if row is None:
        raise not_found("Device")
    history = (await loans.loans_of(db, [row.id]))[row.id]
    resource = device_resources.device_to_fhir(row, history, principal)
    await _record(db, principal, audit.READ, "read", row, resource, 200)
    return FhirResponse(resource, headers={"ETag": device_resources.etag(row)})


@router.get("/Device")
async def search_devices(
    request: Request, principal: DeviceSearcher, db: Db, state: State
) -> FhirResponse:
    """The caller's devices; ``identifier=[system|]value``, ``patient`` (who holds it now)."""
    params = request.query_params
    unknown = sorted(set(params.keys()) - {"identifier", "patient", "_count", "_cursor"})
    if unknown:
        raise FhirError.one(
            400, "invalid", f"unsupported search parameter(s): {', '.join(unknown)}"
        )
    count = positive_count(params.get("_count"), state.settings.default_page_size)
    if count is None:
        raise FhirError.one(400, "invalid", "_count must be a positive integer", "_count")
    count = min(count, state.settings.max_page_size)
    identifier = None
    if "identifier" in params:
        system, bar, value = params["identifier"].rpartition("|")
        identifier = (system if bar else None, value)
    patient_id = params.get("patient", "").removeprefix("Patient/") or None
    rows = await repository.search_visible(
        db,
        principal,
        identifier=identifier,
        patient_id=patient_id,
        after_id=params.get("_cursor"),
        limit=count + 1,
    )
    page = rows[:count]
    histories = await loans.loans_of(db, [r.id for r in page])
    resources = [device_resources.device_to_fhir(r, histories[r.id], principal) for r in page]
    holders = [
        (str(r["patient"]["reference"]).removeprefix("Patient/"), row.centre_id)
        for r, row in zip(resources, page, strict=True)
        if "patient" in r
    ]
    await audit.record_search(
        db, principal, "Device", params.multi_items(), holders, requested_patient=patient_id
    )
    next_after = page[-1].id if len(rows) > count else None
    return FhirResponse(searchset(request, resources, next_after))


async def _write(
    request: Request,
    principal: Principal,
    db: AsyncConnection,
    state: State,
    target: device_resources.Target,
) -> FhirResponse:
    body, _ = await read_fhir_body(request, state.settings)
    centre_id, patient_id = await _centre_and_patient(db, principal, body)
    written = await device_resources.write(
        db, principal, body, target, centre_id=centre_id, patient_id=patient_id, now=utcnow()
    )
    row = written.row
    resource = device_resources.device_to_fhir(row, written.loans, principal)
    status = 201 if written.created else 200
    action, subtype = (audit.CREATE, "create") if written.created else (audit.UPDATE, "update")
    await _record(db, principal, action, subtype, row, resource, status)
    headers = {
        "Location": f"{request.base_url}fhir/Device/{row.id}/_history/{row.version_id}",
        "ETag": device_resources.etag(row),
    }
    return FhirResponse(resource, status_code=status, headers=headers)


async def _centre_and_patient(
    conn: AsyncConnection, principal: Principal, resource: Any
) -> tuple[str, str | None]:
    """The centre the device belongs to, and the patient a new device is lent to on
    first use: a patient's own token (their gateway) says both; staff and systems name
    the centre by ``Device.owner`` or have only one, and lend through /api/device-loans."""
    if principal.role is Role.patient:
        row = await patients.get_for_readings(conn, principal, principal.subject)
        if row is None or row.status == "ended":
            raise FhirError.one(
                422, "not-found", "no enrolled patient to register the device for", "Device"
            )
        return str(row.centre_id), str(row.id)
    owner = resource.get("owner") if isinstance(resource, dict) else None
    reference = owner.get("reference") if isinstance(owner, dict) else None
    if isinstance(reference, str):
        centre_id = reference.removeprefix("Organization/")
        if centre_id not in principal.centres:
            raise FhirError.one(422, "not-found", "no such follow-up centre", "Device.owner")
        return centre_id, None
    if len(principal.centres) != 1:
        raise FhirError.one(
            422, "required", "name the follow-up centre in Device.owner", "Device.owner"
        )
    return principal.centres[0], None


async def _record(
    db: AsyncConnection,
    principal: Principal,
    action: str,
    subtype: str,
    row: Row[Any],
    resource: dict[str, Any],
    status: int,
) -> None:
    holder = (resource.get("patient") or {}).get("reference")
    await audit.record(
        db,
        principal,
        action=action,
        subtype=subtype,
        resource_type="Device",
        resource_id=row.id,
        patient_id=holder.removeprefix("Patient/") if holder else None,
        centre_id=row.centre_id,
        status=status,
    )
