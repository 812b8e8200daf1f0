"""``/fhir/Communication``: messages between a patient and their centre, and
``/api/patients/{id}/messages/read``: the caller has read the thread.

Every call is audited with the patient it touched; a message's text is never logged.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel

from service.audit import service as audit
from service.auth.deps import (
    CommunicationCreator,
    CommunicationReader,
    CommunicationSearcher,
    CommunicationUpdater,
)
from service.deps import Db, State
from service.errors import NotFound
from service.fhirkit.body import read_fhir_body
from service.fhirkit.bundles import encode_cursor, searchset, time_cursor
from service.fhirkit.outcome import FhirError, not_found
from service.fhirkit.params import positive_count
from service.fhirkit.responses import FhirResponse
from service.messages import fhir_mapping, repository
from service.messages import service as messages
from service.models_base import utcnow

router = APIRouter(prefix="/fhir", tags=["FHIR messages"])
api_router = APIRouter(prefix="/api", tags=["Messages"])

_FHIR_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/fhir+json": {"schema": {"type": "object"}}},
    }
}
_SEARCH = {"patient", "_count", "_cursor"}


@router.post("/Communication", status_code=201, openapi_extra=_FHIR_BODY)
async def send_message(
    request: Request, principal: CommunicationCreator, db: Db, state: State
) -> FhirResponse:
    """A patient writes to their centre, or a nurse to a patient of the centre; a resend
    (same identifier, or the same words at the same ``sent``) answers 200 with the stored
    message."""
    body, _raw = await read_fhir_body(request, state.settings)
    sent = await messages.send_resource(db, principal, body, state.settings, utcnow())
    row = sent.row
    status = 201 if sent.created else 200
    await audit.record_row(db, principal, audit.CREATE, "create", "Communication", row, status)
    headers = {"Location": f"{request.base_url}fhir/Communication/{row['id']}"}
    return FhirResponse(fhir_mapping.render(row), status_code=status, headers=headers)


@router.get("/Communication/{communication_id}")
async def read_message(
    communication_id: str, principal: CommunicationReader, db: Db
) -> FhirResponse:
    row = await repository.get_visible(db, principal, communication_id)
    if row is None:
        raise not_found("Communication")
    await audit.record_row(db, principal, audit.READ, "read", "Communication", row._mapping)
    return FhirResponse(fhir_mapping.render(row._mapping))


@router.get("/Communication")
async def search_messages(
    request: Request, principal: CommunicationSearcher, db: Db, state: State
) -> FhirResponse:
    """A thread, newest first, paged by the Bundle's next link."""
    params = request.query_params
    unknown = sorted(set(params.keys()) - _SEARCH)
    if unknown:
        raise FhirError.one(400, "invalid", "unsupported search parameter", unknown[0])
    patient = params.get("patient")
    patient_id = patient.removeprefix("Patient/") if patient else None
    count = positive_count(params.get("_count"), state.settings.default_page_size)
    if count is None:
        raise FhirError.one(400, "invalid", "_count must be a positive integer", "_count")
    count = min(count, state.settings.max_page_size)
    rows = await messages.thread(
        db, principal, patient_id, time_cursor(params.get("_cursor")), count + 1
    )
    page = rows[:count]
    cursor = None
    if len(rows) > count:
        cursor = encode_cursor([page[-1].sent_at.isoformat(), page[-1].id])
    await audit.record_search(
        db,
        principal,
        "Communication",
        params.multi_items(),
        [(row.patient_id, row.centre_id) for row in page],
        requested_patient=patient_id,
    )
    resources = [fhir_mapping.render(row._mapping) for row in page]
    return FhirResponse(searchset(request, resources, cursor))


class WaitingThread(BaseModel):
    """A patient whose messages no nurse has read yet."""

    patient_id: str
    patient_name: str
    waiting: int
    waiting_since: datetime


@api_router.get("/messages/waiting")
async def waiting_messages(principal: CommunicationSearcher, db: Db) -> list[WaitingThread]:
    """The centre's unread patient messages, by patient, the longest waiting first: what
    the queue shows as "message waiting", for patients with or without an open item."""
    rows = await messages.waiting_threads(db, principal)
    await audit.record_search(
        db,
        principal,
        "Communication",
        [("waiting", "true")],
        [(row.patient_id, row.centre_id) for row in rows],
    )
    return [
        WaitingThread(
            patient_id=row.patient_id,
            patient_name=f"{row.given_name} {row.family_name}",
            waiting=row.waiting,
            waiting_since=row.waiting_since,
        )
        for row in rows
    ]


class ThreadRead(BaseModel):
    """How many of the other side's messages this call marked read."""

    marked: int


@api_router.post(
    "/patients/{patient_id}/messages/read",
    responses={404: {"description": "no such patient within the caller's reach"}},
)
async def mark_thread_read(patient_id: str, principal: CommunicationUpdater, db: Db) -> ThreadRead:
    """The caller has read the thread: a nurse, the patient's messages (the queue's
    "message waiting" goes); the patient, the centre's replies."""
    marked = await messages.mark_read(db, principal, patient_id, utcnow())
    if marked is None:
        raise NotFound("no such patient")
    await messages.audit_marked(db, principal, patient_id, marked)
    if not marked:  # the caller still opened the thread
        await audit.record(
            db,
            principal,
            action=audit.UPDATE,
            subtype="update",
            resource_type="Communication",
            patient_id=patient_id,
        )
    return ThreadRead(marked=len(marked))
