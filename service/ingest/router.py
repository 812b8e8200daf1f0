"""FHIR routes of readings: create, Bundle, read, search."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from service.audit import service as audit
from service.auth.deps import (
    ObservationCreator,
    ObservationReader,
    ObservationSearcher,
    ObservationUpdater,
)
from service.deps import Db, State, admitted_transaction
from service.fhirkit.body import read_bundle_body, read_fhir_body
from service.fhirkit.bundles import encode_cursor, searchset
from service.fhirkit.outcome import not_found
from service.fhirkit.responses import FhirResponse
from service.ingest import bundle as bundles
from service.ingest import history, repository, retraction, retraction_repository, search
from service.ingest import service as ingest
from service.ingest.context import ingest_context
from service.ingest.resources import etag
from service.models_base import utcnow
from service.state import app_state

router = APIRouter(prefix="/fhir", tags=["FHIR readings"])

_FHIR_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/fhir+json": {"schema": {"type": "object"}}},
    }
}


@router.post(
    "/Observation",
    status_code=201,
    openapi_extra={
        **_FHIR_BODY,
        "parameters": [
            {
                "name": "Prefer",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": "return=minimal answers without a body",
            }
        ],
    },
)
async def create_observation(request: Request, principal: ObservationCreator) -> Response:
    """Store one reading. A repeat of a stored reading answers 200 with the stored one.

    ``Prefer: return=minimal`` answers without a body. (The hot path: the state and
    the header are read from the request, not resolved as dependencies.)
    """
    state = app_state(request)
    body, raw = await read_fhir_body(request, state.settings)
    # The transaction opens here, after the body has arrived, rather than in the Db
    # dependency: a slow tablet upload then holds no pooled connection, and the hot
    # path skips a yield dependency. It commits before the response is built, as Db does.
    async with admitted_transaction(state) as db:
        # In the same transaction: the reading and its audit record, or neither. A new
        # reading's record goes in with it, in one statement; a repeat's is written here.
        result = await ingest.create_observation(
            db,
            principal,
            body,
            ingest_context(state),
            raw=raw,
            audit_created=lambda row: audit.creation_row(principal, "Observation", row),
        )
        if not result.created:
            await audit.record_row(
                db, principal, audit.CREATE, "create", "Observation", result.row, 200
            )
    row = result.row
    headers = {
        "Location": f"{request.base_url}fhir/Observation/{row['id']}/_history/{row['version_id']}",
        "ETag": etag(row),
    }
    status = 201 if result.created else 200
    if "return=minimal" in request.headers.get("prefer", ""):
        return Response(status_code=status, headers=headers)
    received = body if result.created else None
    resource = retraction.render(row, received, result.verdict)
    return FhirResponse(resource, status_code=status, headers=headers)


@router.post("", openapi_extra=_FHIR_BODY)
async def process_bundle(
    request: Request, principal: ObservationCreator, db: Db, state: State
) -> FhirResponse:
    """A gateway's ``transaction`` (all or nothing) or ``batch`` (entry by entry) Bundle."""
    settings = state.settings
    body, _ = await read_bundle_body(request, settings)
    # A Bundle tagged as history is stored without triage (service.ingest.history).
    ctx = history.context_for_bundle(body, principal, ingest_context(state))
    response = await bundles.process(
        db,
        principal,
        body,
        ctx,
        state.vault,
        max_entries=settings.bundle_max_entries,
        max_entry_bytes=settings.max_body_bytes,
        max_entry_items=settings.max_json_items,
        representation="return=representation" in request.headers.get("prefer", ""),
    )
    await audit.record_bundle(db, principal, str(body["type"]), response)
    return FhirResponse(response)


@router.get("/Observation/{observation_id}")
async def read_observation(
    observation_id: str, principal: ObservationReader, db: Db, state: State
) -> FhirResponse:
    row = await repository.get_visible(db, principal, observation_id)
    if row is None:
        raise not_found("Observation")
    await audit.record(
        db,
        principal,
        action=audit.READ,
        subtype="read",
        resource_type="Observation",
        resource_id=row.id,
        patient_id=row.patient_id,
        centre_id=row.centre_id,
    )
    verdicts = await state.judge.verdicts(db, [row._mapping])
    resource = retraction.render(row._mapping, verdict=verdicts.get(row.id))
    return FhirResponse(resource, headers={"ETag": etag(row._mapping)})


@router.get("/Observation")
async def search_observations(
    request: Request, principal: ObservationSearcher, db: Db, state: State
) -> FhirResponse:
    """Readings, newest first by default; paging by an opaque cursor stays stable
    while new readings arrive."""
    query = search.parse(
        request.query_params,
        state.catalogue,
        default_count=state.settings.default_page_size,
        max_count=state.settings.max_page_size,
        zone=state.local_zone,
    )
    rows = await repository.search_visible(
        db,
        principal,
        patient_id=query.patient_id,
        codes=query.codes,
        date_bounds=query.date_bounds,
        newest_first=query.newest_first,
        after=query.after,
        limit=query.count + 1,
        statuses=query.statuses,
    )
    page = rows[: query.count]
    cursor = None
    if len(rows) > query.count:
        last = page[-1]
        cursor = encode_cursor([last.effective_at.isoformat(), last.id])
    await audit.record_search(
        db,
        principal,
        "Observation",
        request.query_params.multi_items(),
        [(row.patient_id, row.centre_id) for row in page],
        requested_patient=query.patient_id,
    )
    verdicts = await state.judge.verdicts(db, [row._mapping for row in page])
    resources = [retraction.render(row._mapping, verdict=verdicts.get(row.id)) for row in page]
    return FhirResponse(searchset(request, resources, cursor))


@router.put(
    "/Observation/{observation_id}",
    responses={412: {"description": "If-Match names another version than the current"}},
    openapi_extra={
        **_FHIR_BODY,
        "parameters": [
            {
                "name": "If-Match",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": 'the version the update is based on, as W/"n"; 412 if stale',
            }
        ],
    },
)
async def update_observation(
    observation_id: str, request: Request, principal: ObservationUpdater, db: Db, state: State
) -> Response:
    """Retract a reading: the stored resource with status ``entered-in-error``, the only
    update a reading accepts (service/ingest/retraction.py)."""
    body, _ = await read_fhir_body(request, state.settings)
    result = await retraction.retract(
        db,
        principal,
        observation_id,
        body,
        if_match=request.headers.get("if-match"),
        judge=state.judge,
        now=utcnow(),
    )
    row = result.row
    headers = {
        "Location": f"{request.base_url}fhir/Observation/{row['id']}/_history/{row['version_id']}",
        "ETag": etag(row),
    }
    if "return=minimal" in request.headers.get("prefer", ""):
        return Response(status_code=200, headers=headers)
    return FhirResponse(retraction.render(row), headers=headers)


# Versions are a 32-bit integer column; a larger number in a path is a version that
# cannot exist, not a database error.
_LARGEST_VERSION = 2**31 - 1


@router.get("/Observation/{observation_id}/_history/{version_id}")
async def read_observation_version(
    observation_id: str, version_id: int, principal: ObservationReader, db: Db
) -> FhirResponse:
    """One version of a reading: the current one, or an earlier one kept by an update."""
    row = await repository.get_visible(db, principal, observation_id)
    if row is None:
        raise not_found("Observation")
    if not 1 <= version_id <= _LARGEST_VERSION:
        raise not_found("Observation version")  # none was ever stored, and no column holds it
    if version_id == row.version_id:
        resource = retraction.render(row._mapping)
    else:
        kept = await retraction_repository.version_visible(
            db, principal, observation_id, version_id
        )
        if kept is None:
            raise not_found("Observation version")
        resource = retraction.render_version(row._mapping, kept._mapping)
    await audit.record(
        db,
        principal,
        action=audit.READ,
        subtype="vread",
        resource_type="Observation",
        resource_id=row.id,
        patient_id=row.patient_id,
        centre_id=row.centre_id,
    )
    return FhirResponse(resource, headers={"ETag": f'W/"{version_id}"'})
