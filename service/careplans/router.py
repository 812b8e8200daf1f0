"""Care plans: ``/api/patients/{id}/care-plan`` and the patient's follow-up status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from service.audit import service as audit
from service.auth.deps import CarePlanReader, CarePlanWriter
from service.auth.principal import Principal
from service.careplans import service as careplans
from service.careplans.fhir_mapping import care_plan_to_fhir
from service.careplans.schemas import (
    CarePlanPreview,
    CarePlanPreviewRequest,
    CarePlanRead,
    CarePlanVersionSummary,
    CarePlanWrite,
    PatientStatusRead,
    ProposedBands,
    StatusChange,
)
from service.deps import Db, State
from service.errors import ApiError, NotFound
from service.fhirkit.bundles import searchset
from service.fhirkit.responses import FhirResponse
from service.models_base import utcnow

router = APIRouter(prefix="/api/patients/{patient_id}", tags=["Care plans"])


@router.get("/care-plan")
async def read_care_plan(
    patient_id: str, principal: CarePlanReader, db: Db, response: Response
) -> CarePlanRead:
    plan = await careplans.read_current(db, principal, patient_id, utcnow())
    await _record(db, principal, audit.READ, "read", patient_id)
    response.headers["ETag"] = f'W/"{plan.version}"'
    return plan


@router.put("/care-plan", responses={409: {"description": "If-Match names an older version"}})
async def write_care_plan(
    patient_id: str,
    body: CarePlanWrite,
    principal: CarePlanWriter,
    db: Db,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> CarePlanRead:
    """A new version of the plan; earlier versions stay readable. Send ``If-Match`` with
    the ETag you read, so that a colleague's change in between is not undone."""
    plan = await careplans.write(
        db, principal, patient_id, body, utcnow(), expected_version=_version(if_match)
    )
    await _record(db, principal, audit.UPDATE, "update", patient_id)
    response.headers["ETag"] = f'W/"{plan.version}"'
    return plan


@router.get("/care-plan/versions")
async def care_plan_versions(
    patient_id: str, principal: CarePlanReader, db: Db
) -> list[CarePlanVersionSummary]:
    versions = await careplans.history(db, principal, patient_id)
    await _record(db, principal, audit.READ, "history-instance", patient_id)
    return versions


@router.get("/care-plan/versions/{version}")
async def care_plan_version(
    patient_id: str, version: int, principal: CarePlanReader, db: Db
) -> CarePlanRead:
    plan = await careplans.read_version(db, principal, patient_id, version, utcnow())
    await _record(db, principal, audit.READ, "vread", patient_id)
    return plan


@router.post("/care-plan/preview")
async def preview_care_plan(
    patient_id: str, body: CarePlanPreviewRequest, principal: CarePlanWriter, db: Db, state: State
) -> CarePlanPreview:
    """What the last days would have raised under the proposed plan, against the
    current one. Stores nothing."""
    preview = await careplans.preview(db, principal, patient_id, body, utcnow(), state.local_zone)
    await _record(db, principal, audit.EXECUTE, "operation", patient_id)
    return preview


@router.get("/care-plan/proposed-bands")
async def proposed_bands(
    patient_id: str,
    principal: CarePlanWriter,
    db: Db,
    days: Annotated[int, Query(ge=7, le=90)] = 28,
) -> ProposedBands:
    """Personal bands from the readings of the ``days`` before the trial's end (a trial
    of 2-4 weeks: 28 by default). Nothing is saved: the nurse accepts them (or edits
    them) with a PUT of the plan, and may preview that first."""
    proposal = await careplans.propose(db, principal, patient_id, utcnow(), days)
    await _record(db, principal, audit.EXECUTE, "operation", patient_id)
    return proposal


@router.post("/status", responses={409: {"description": "follow-up has ended"}})
async def change_status(
    patient_id: str, body: StatusChange, principal: CarePlanWriter, db: Db
) -> PatientStatusRead:
    """Pause follow-up (hospital stay, holiday: nothing is raised), resume it, or end it."""
    status = await careplans.change_status(db, principal, patient_id, body, utcnow())
    await _record(db, principal, audit.UPDATE, "update", patient_id, resource_type="Patient")
    return status


async def _record(
    db: AsyncConnection,
    principal: Principal,
    action: str,
    subtype: str,
    patient_id: str,
    *,
    resource_type: str = "CarePlan",
) -> None:
    await audit.record(
        db,
        principal,
        action=action,
        subtype=subtype,
        resource_type=resource_type,
        resource_id=patient_id,
        patient_id=patient_id,
    )


def _version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    text = if_match.removeprefix("W/").strip('"')
    if not text.isdigit():
        raise ApiError('If-Match: expected an ETag like W/"3"')
    return int(text)


fhir_router = APIRouter(prefix="/fhir", tags=["FHIR care plans"])


@fhir_router.get("/CarePlan")
async def search_care_plans(
    request: Request,
    principal: CarePlanReader,
    db: Db,
    state: State,
    patient: Annotated[str, Query(max_length=64, description="Patient id")],
) -> FhirResponse:
    """The patient's current care plan, its personal ranges as contained ``Goal``s."""
    try:
        plan = await careplans.read_current(db, principal, patient, utcnow())
    except NotFound:
        await audit.record_search(db, principal, "CarePlan", request.query_params.multi_items(), [])
        return FhirResponse(searchset(request, [], None))
    plan_id = await careplans.current_version_id(db, patient)
    await audit.record_search(
        db, principal, "CarePlan", request.query_params.multi_items(), [(patient, plan.centre_id)]
    )
    return FhirResponse(
        searchset(request, [care_plan_to_fhir(plan, plan_id, state.catalogue)], None)
    )
