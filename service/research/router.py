"""Studies (``/api/studies``) and the FHIR Bulk Data export of a study's cohort.

Kick-off ``GET|POST /fhir/Group/{study}/$export`` with ``Prefer: respond-async``;
poll the ``Content-Location`` (202 with ``X-Progress`` and ``Retry-After``, then 200
with the manifest); ``DELETE`` it to cancel; download each file with the same token.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from starlette.responses import FileResponse, JSONResponse

from service.auth.deps import current_principal, require
from service.auth.principal import Principal
from service.deps import Db, State
from service.errors import ApiError
from service.fhirkit.outcome import Issue, operation_outcome
from service.fhirkit.responses import FhirResponse
from service.models_base import utcnow
from service.research import runner
from service.research import service as research
from service.research.models import ACTIVE_STATUSES
from service.research.pseudonyms import StudyKeyring
from service.research.schemas import Manifest, StudyCreate, StudyList, StudyRead
from service.research.writers import MEDIA_TYPES

Caller = Annotated[Principal, Depends(current_principal)]
# A study's cohort is a FHIR Group: exporting it is reading the Group's data.
GroupExporter = Annotated[Principal, Depends(require("Group", "r"))]

NDJSON_FORMATS = frozenset({"application/fhir+ndjson", "application/ndjson", "ndjson"})

router = APIRouter(prefix="/api/studies", tags=["Research studies"])


@router.post("", status_code=201)
async def register_study(body: StudyCreate, principal: Caller, db: Db, state: State) -> StudyRead:
    """Register a study (admins, for centres within their reach). Its key is made here
    and never shown."""
    keyring = StudyKeyring.from_vault(state.vault)
    return await research.register(db, principal, body, keyring, state.catalogue)


@router.get("")
async def list_studies(principal: Caller, db: Db) -> StudyList:
    """A researcher's own studies; an admin's, those of their centres."""
    return StudyList(studies=await research.list_visible(db, principal))


@router.get("/{study_id}")
async def read_study(study_id: str, principal: Caller, db: Db) -> StudyRead:
    return await research.read(db, principal, study_id)


fhir_router = APIRouter(prefix="/fhir", tags=["FHIR Bulk Data export"])


async def kick_off(
    study_id: str,
    request: Request,
    principal: GroupExporter,
    db: Db,
    prefer: Annotated[str | None, Header()] = None,
    output_format: Annotated[str | None, Query(alias="_outputFormat", max_length=64)] = None,
    since: Annotated[str | None, Query(alias="_since", max_length=64)] = None,
    types: Annotated[str | None, Query(alias="_type", max_length=200)] = None,
) -> Response:
    """Start a de-identified export of the study's cohort (Bulk Data, Group level)."""
    if "respond-async" not in (prefer or ""):
        raise ApiError("the Prefer header must be respond-async")
    post_format = await _post_parameters(request)
    if (output_format or post_format or "ndjson") not in NDJSON_FORMATS:
        raise ApiError("_outputFormat: only application/fhir+ndjson is offered")
    if since is not None or types is not None:
        raise ApiError("_since and _type are not supported: a study exports its whole window")
    job_id = await research.kick_off(db, principal, study_id, str(request.url), utcnow())
    location = f"{_base(request)}/fhir/bulk-status/{job_id}"
    issue = Issue("informational", "export queued", severity="information")
    return FhirResponse(
        operation_outcome([issue]), status_code=202, headers={"Content-Location": location}
    )


for _method in ("GET", "POST"):
    fhir_router.add_api_route(
        "/Group/{study_id}/$export",
        kick_off,
        methods=[_method],
        status_code=202,
        response_class=FhirResponse,
        operation_id=f"group_export_{_method.lower()}",
        responses={
            202: {"description": "queued; poll the Content-Location"},
            429: {"description": "an export of this study by the caller is under way"},
        },
    )


async def _post_parameters(request: Request) -> str | None:
    """A POST kick-off may carry a Parameters body; only ``_outputFormat`` is taken."""
    body = await request.body() if request.method == "POST" else b""
    if not body.strip():
        return None
    try:
        document: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ApiError("the body must be a FHIR Parameters resource") from None
    if not isinstance(document, dict) or document.get("resourceType") != "Parameters":
        raise ApiError("the body must be a FHIR Parameters resource")
    found: str | None = None
    for parameter in document.get("parameter") or ():
        if not isinstance(parameter, dict) or parameter.get("name") != "_outputFormat":
            raise ApiError("only the _outputFormat parameter is supported")
        found = str(parameter.get("valueString") or "")
    return found


@fhir_router.get(
    "/bulk-status/{job_id}",
    response_model=Manifest,
    responses={
        202: {"description": "in progress: see X-Progress, come back after Retry-After"},
        404: {"description": "no such export, or cancelled, or expired"},
        429: {"description": "polled again too soon: come back after Retry-After"},
    },
)
async def export_status(
    job_id: str, request: Request, principal: GroupExporter, db: Db
) -> Response:
    now = utcnow()
    job = await research.job_for(db, principal, job_id, now)
    if job.status in ACTIVE_STATUSES:
        await research.note_poll(db, job_id, now)
        progress = "queued" if job.status == "queued" else f"{round(job.progress * 100)}% written"
        return Response(
            status_code=202,
            headers={"X-Progress": progress, "Retry-After": str(research.RETRY_AFTER_SECONDS)},
        )
    headers = {}
    if job.expires_at is not None:
        headers["Expires"] = job.expires_at.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return JSONResponse(research.manifest(job, _base(request)), headers=headers)


@fhir_router.delete("/bulk-status/{job_id}", status_code=202, response_class=FhirResponse)
async def cancel_export(job_id: str, principal: GroupExporter, db: Db) -> Response:
    """Cancel the export and delete its files; the status URL then answers 404."""
    await research.cancel(db, principal, job_id, utcnow())
    issue = Issue("informational", "export cancelled", severity="information")
    return FhirResponse(operation_outcome([issue]), status_code=202)


@fhir_router.get(
    "/bulk-files/{job_id}/{name}",
    response_class=FileResponse,
    responses={200: {"description": "an export file (NDJSON, CSV, Parquet or JSON)"}},
)
async def export_file(
    job_id: str, name: str, principal: GroupExporter, db: Db, state: State
) -> Response:
    exports = runner.exports_dir(state.settings)
    path = await research.file_for(db, principal, job_id, name, exports, utcnow())
    media_type = MEDIA_TYPES.get(path.suffix, "application/octet-stream")
    return FileResponse(path, media_type=media_type, filename=name)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")
