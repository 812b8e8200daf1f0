"""Studies and the Bulk Data export flow: register, list, kick off, poll, cancel, download.

Every export-related request is audited in its own transaction (``audit.record``), one
record per centre of the study, so each centre's auditor sees that its patients' data
left in de-identified form, by whom and for which study. The status URL answers as
missing for anyone but the researcher who started the export, and for cancelled and
expired exports.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path, PurePath
from typing import Any, ClassVar

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from alerts.protocols import available_protocols
from service.audit import service as audit
from service.auth.principal import Principal, Role
from service.errors import ApiError, Forbidden, NotFound
from service.fhirkit.catalogue import Catalogue
from service.fhirkit.outcome import IssueCode
from service.models_base import new_id, utcnow
from service.research import repository
from service.research.dictionary import DEFAULT_VARIABLES
from service.research.models import ExportStatus
from service.research.pseudonyms import StudyKeyring
from service.research.schemas import StudyCreate, StudyRead

RETRY_AFTER_SECONDS = 5
# Polls of a running export closer together than this are answered 429. Shorter than
# Retry-After, so a client that waits as told is never refused for a late clock tick.
MIN_POLL_INTERVAL = timedelta(seconds=2)


class TooManyExports(ApiError):
    status_code = 429
    error = "too_many_requests"
    fhir_code: ClassVar[IssueCode] = "too-costly"


def _read(row: Row[Any], centres: list[str], researchers: list[str]) -> StudyRead:
    fields = {name: getattr(row, name) for name in StudyRead.model_fields if hasattr(row, name)}
    fields["value_limits"] = row.value_limits or {}
    fields["non_identifying"] = row.non_identifying or []
    return StudyRead(
        **fields,
        centres=centres,
        researchers=researchers,
        export_url=f"/fhir/Group/{row.id}/$export",
    )


async def register(
    conn: AsyncConnection,
    principal: Principal,
    body: StudyCreate,
    keyring: StudyKeyring,
    catalogue: Catalogue,
) -> StudyRead:
    if principal.role is not Role.admin:
        raise Forbidden("only admins register studies")
    centres = sorted(set(body.centres))
    found = await repository.existing_centres(conn, centres)
    if not set(centres) <= set(principal.centres) or found != set(centres):
        raise ApiError("centres: no such follow-up centre within your reach")
    if body.expires_at <= utcnow():
        # An approval that has already run out allows no export: a typo, not a study.
        raise ApiError("expires_at: the approval has already expired")
    unknown = sorted(set(body.protocols) - set(available_protocols()))
    if unknown:
        raise ApiError(f"protocols: unknown protocol {', '.join(unknown)}")
    numeric = {m.key for m in catalogue.measurements if m.unit is not None}
    unknown = sorted(set(body.value_limits) - numeric)
    if unknown:
        raise ApiError(f"value_limits: not a measurement with a unit: {', '.join(unknown)}")
    study_id = new_id()
    values = body.model_dump(exclude={"centres", "researchers"}, exclude_none=False)
    values |= {
        "id": study_id,
        "variables": list(body.variables if body.variables is not None else DEFAULT_VARIABLES),
        "key_ciphertext": keyring.seal(study_id, keyring.new_key()),
        "key_id": keyring.key_id,
        "created_by": principal.subject,
        "created_at": utcnow(),
    }
    subjects = sorted(set(body.researchers))
    await repository.insert_study(conn, values, centres, subjects)
    return await read(conn, principal, study_id)


async def list_visible(conn: AsyncConnection, principal: Principal) -> list[StudyRead]:
    _staff_or_researcher(principal)
    rows = await repository.visible_studies(conn, principal)
    centres, subjects = await repository.links(conn, [r.id for r in rows])
    return [_read(r, centres[r.id], subjects[r.id]) for r in rows]


async def read(conn: AsyncConnection, principal: Principal, study_id: str) -> StudyRead:
    _staff_or_researcher(principal)
    row = await repository.visible_study(conn, principal, study_id)
    if row is None:
        raise NotFound("study not found")
    centres, subjects = await repository.links(conn, [study_id])
    return _read(row, centres[study_id], subjects[study_id])


def _staff_or_researcher(principal: Principal) -> None:
    if principal.role not in (Role.researcher, Role.admin):
        raise Forbidden("studies are for their researchers and the centres' admins")


async def kick_off(
    conn: AsyncConnection, principal: Principal, study_id: str, request_url: str, now: datetime
) -> str:
    """Queue an export of the study for the researcher; answers the job id."""
    if principal.role is not Role.researcher:
        raise Forbidden("only the study's researchers export")
    study = await repository.visible_study(conn, principal, study_id)
    if study is None:
        raise NotFound("Group not found")
    if study.expires_at <= now:
        raise Forbidden("the study has expired")
    if await repository.active_jobs(conn, study_id, principal.subject):
        raise TooManyExports(
            "an export of this study is already under way: poll it or cancel it",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    job_id = new_id()
    await repository.insert_job(
        conn,
        {
            "id": job_id,
            "study_id": study_id,
            "status": ExportStatus.queued,
            "progress": 0.0,
            "request": request_url,
            "requested_by": principal.subject,
            "transaction_time": now,
            "created_at": now,
            "files": [],
        },
    )
    await _audit(conn, principal, study_id, audit.EXECUTE, "export")
    return job_id


async def job_for(
    conn: AsyncConnection, principal: Principal, job_id: str, now: datetime
) -> Row[Any]:
    """The caller's export, unless cancelled or expired (then, as missing ones, 404)."""
    job = await repository.visible_job(conn, principal, job_id)
    gone = (ExportStatus.cancelled, ExportStatus.expired)
    if job is None or job.status in gone or (job.expires_at and job.expires_at <= now):
        raise NotFound("export not found")
    return job


async def note_poll(conn: AsyncConnection, job_id: str, now: datetime) -> None:
    """Record a poll of a running export; a poll sooner than ``MIN_POLL_INTERVAL`` after
    the last one is refused with 429. The last poll's time is on the job's row (one
    conditional UPDATE), so it holds across API processes."""
    if not await repository.note_poll(conn, job_id, now, now - MIN_POLL_INTERVAL):
        raise TooManyExports(
            f"polled again within {MIN_POLL_INTERVAL.seconds} s: wait as Retry-After says",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )


async def cancel(conn: AsyncConnection, principal: Principal, job_id: str, now: datetime) -> None:
    job = await job_for(conn, principal, job_id, now)
    live = ("queued", "running", "completed", "failed")
    await repository.move(conn, job_id, live, status=ExportStatus.cancelled, finished_at=now)
    await _audit(conn, principal, job.study_id, audit.DELETE, "export-cancel")


async def file_for(
    conn: AsyncConnection,
    principal: Principal,
    job_id: str,
    name: str,
    exports: Path,
    now: datetime,
) -> Path:
    """A file of a finished export, named exactly as in its manifest."""
    job = await job_for(conn, principal, job_id, now)
    names = {f["name"] for f in job.files or ()}
    finished = job.status in (ExportStatus.completed, ExportStatus.failed)
    if not finished or name not in names or PurePath(name).name != name:
        raise NotFound("file not found")
    path = exports / job_id / name
    if not path.is_file():
        raise NotFound("file not found")
    await _audit(conn, principal, job.study_id, audit.READ, "export-file")
    return path


async def _audit(
    conn: AsyncConnection, principal: Principal, study_id: str, action: str, subtype: str
) -> None:
    centres, _ = await repository.links(conn, [study_id])
    targets: list[str | None] = [*centres[study_id]] or [None]
    for centre_id in targets:
        await audit.record(
            conn,
            principal,
            action=action,
            subtype=subtype,
            resource_type="Group",
            resource_id=study_id,
            centre_id=centre_id,
        )


def manifest(job: Row[Any], base_url: str) -> dict[str, Any]:
    """The Bulk Data manifest: NDJSON files in ``output`` (or the error file in
    ``error``), and every file with its SHA-256 under ``extension.files``."""
    files_url = f"{base_url}/fhir/bulk-files/{job.id}"
    described = [{**f, "url": f"{files_url}/{f['name']}"} for f in job.files or ()]
    entries = [
        {
            "type": f["type"],
            "url": f["url"],
            "count": f.get("count"),
            "extension": {k: f[k] for k in ("sha256", "bytes") if k in f} or None,
        }
        for f in described
        # Bulk Data lists no empty output file; extension.files still names it.
        if f["format"] == "ndjson" and f.get("count")
    ]
    output = [e for e in entries if e["type"] != "OperationOutcome"]
    errors = [e for e in entries if e["type"] == "OperationOutcome"]
    return {
        "transactionTime": job.transaction_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "request": job.request,
        "requiresAccessToken": True,
        "output": output,
        "error": errors,
        "extension": {
            "status": job.status,
            "expires": job.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ") if job.expires_at else None,
            "files": described,
        },
    }
