"""FHIR routes of forms and answers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from service.audit import service as audit
from service.auth.deps import (
    QuestionnaireReader,
    QuestionnaireResponseCreator,
    QuestionnaireResponseReader,
    QuestionnaireResponseSearcher,
)
from service.deps import Db, State
from service.fhirkit.body import read_fhir_body
from service.fhirkit.bundles import encode_cursor, searchset, time_cursor
from service.fhirkit.outcome import FhirError, not_found
from service.fhirkit.params import positive_count
from service.fhirkit.responses import FhirResponse
from service.ingest.context import ingest_context
from service.ingest.search import _date_bounds
from service.questionnaires import repository
from service.questionnaires import service as responses
from service.questionnaires.forms import load_forms

router = APIRouter(prefix="/fhir", tags=["FHIR questionnaires"])

_FHIR_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/fhir+json": {"schema": {"type": "object"}}},
    }
}
_SEARCH = {"patient", "questionnaire", "authored", "_count", "_cursor"}
_MAX_AUTHORED = 4


@router.get("/Questionnaire")
async def search_questionnaires(
    request: Request, principal: QuestionnaireReader, state: State
) -> FhirResponse:
    """Every form this service offers (they are few, and the same for every centre)."""
    unknown = sorted(set(request.query_params.keys()) - {"_count"})
    if unknown:
        raise FhirError.one(400, "invalid", "unsupported search parameter", unknown[0])
    forms = load_forms(state.settings.fhir_dir).all()
    return FhirResponse(searchset(request, [f.resource for f in forms], None))


@router.get("/Questionnaire/{questionnaire_id}")
async def read_questionnaire(
    questionnaire_id: str, principal: QuestionnaireReader, state: State
) -> FhirResponse:
    form = load_forms(state.settings.fhir_dir).by_id.get(questionnaire_id)
    if form is None:
        raise not_found("Questionnaire")
    return FhirResponse(form.resource)


@router.post("/QuestionnaireResponse", status_code=201, openapi_extra=_FHIR_BODY)
async def create_questionnaire_response(
    request: Request, principal: QuestionnaireResponseCreator, db: Db, state: State
) -> FhirResponse:
    """Store one answered form; a resend answers 200 with the stored one. A scored form
    answers with its score's triage verdict, as a reading does."""
    body, raw = await read_fhir_body(request, state.settings)
    result = await responses.create_response(
        db, principal, body, ingest_context(state), load_forms(state.settings.fhir_dir), raw=raw
    )
    row = result.row
    status = 201 if result.created else 200
    await audit.record_row(
        db, principal, audit.CREATE, "create", "QuestionnaireResponse", row, status
    )
    headers = {"Location": f"{request.base_url}fhir/QuestionnaireResponse/{row['id']}"}
    return FhirResponse(responses.render(row, result.verdict), status_code=status, headers=headers)


@router.get("/QuestionnaireResponse/{response_id}")
async def read_questionnaire_response(
    response_id: str, principal: QuestionnaireResponseReader, db: Db
) -> FhirResponse:
    row = await repository.get_visible(db, principal, response_id)
    if row is None:
        raise not_found("QuestionnaireResponse")
    await audit.record_row(db, principal, audit.READ, "read", "QuestionnaireResponse", row._mapping)
    return FhirResponse(responses.render(row._mapping))


@router.get("/QuestionnaireResponse")
async def search_questionnaire_responses(
    request: Request, principal: QuestionnaireResponseSearcher, db: Db, state: State
) -> FhirResponse:
    """Newest first, by when the patient answered."""
    params = request.query_params
    unknown = sorted(set(params.keys()) - _SEARCH)
    if unknown:
        raise FhirError.one(400, "invalid", "unsupported search parameter", unknown[0])
    patient = params.get("patient")
    patient_id = patient.removeprefix("Patient/") if patient else None
    questionnaire, version = _questionnaire(params.get("questionnaire"))
    authored = params.getlist("authored")
    if len(authored) > _MAX_AUTHORED:
        raise FhirError.one(400, "invalid", "too many authored bounds", "authored")
    bounds = [b for value in authored for b in _date_bounds(value, state.local_zone)]
    count = positive_count(params.get("_count"), state.settings.default_page_size)
    if count is None:
        raise FhirError.one(400, "invalid", "_count must be a positive integer", "_count")
    count = min(count, state.settings.max_page_size)
    rows = await repository.search_visible(
        db,
        principal,
        patient_id=patient_id,
        questionnaire=questionnaire,
        version=version,
        authored_bounds=bounds,
        after=time_cursor(params.get("_cursor")),
        limit=count + 1,
    )
    page = rows[:count]
    cursor = None
    if len(rows) > count:
        cursor = encode_cursor([page[-1].authored_at.isoformat(), page[-1].id])
    await audit.record_search(
        db,
        principal,
        "QuestionnaireResponse",
        params.multi_items(),
        [(row.patient_id, row.centre_id) for row in page],
        requested_patient=patient_id,
    )
    resources: list[dict[str, Any]] = [responses.render(row._mapping) for row in page]
    return FhirResponse(searchset(request, resources, cursor))


def _questionnaire(value: str | None) -> tuple[str | None, str | None]:
    if not value:
        return None, None
    url, _, version = value.partition("|")
    return url, version or None
