"""Reading the audit trail: auditors (JSON and FHIR AuditEvent) and patients (their
access log). Reading the trail is itself recorded in it.

Who reaches which records is decided by ``service.tenancy.audit_events_visible_to``:
an auditor the records of the centres in their token, a patient those about
themselves.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime
from sqlalchemy.ext.asyncio import AsyncConnection

from service.audit import repository
from service.audit.fhir_mapping import audit_event_to_fhir
from service.audit.redact import redact_query
from service.audit.schemas import AccessLog, AccessLogEntry, AuditPage, AuditRecord
from service.audit.service import EXECUTE, record
from service.auth.deps import current_principal, require
from service.auth.principal import Principal, Role
from service.deps import Db, State
from service.errors import ApiError, Forbidden
from service.fhirkit.bundles import decode_cursor, encode_cursor, searchset
from service.fhirkit.outcome import FhirError
from service.fhirkit.params import positive_count
from service.fhirkit.responses import FhirResponse

router = APIRouter(tags=["audit"])

AuditSearcher = Annotated[Principal, Depends(require("AuditEvent", "s"))]
Caller = Annotated[Principal, Depends(current_principal)]

_FHIR_PARAMETERS = {"patient", "agent", "date", "_count", "_cursor"}
_ACTION_WORDS = {"C": "create", "R": "read", "U": "update", "D": "delete"}


@router.get("/api/audit", response_model=AuditPage)
async def list_audit_records(
    request: Request,
    principal: AuditSearcher,
    db: Db,
    state: State,
    patient: str | None = None,
    actor: Annotated[str | None, Query(description="the user's token subject")] = None,
    since: Annotated[AwareDatetime | None, Query(alias="from", description="inclusive")] = None,
    until: Annotated[AwareDatetime | None, Query(alias="to", description="exclusive")] = None,
    count: Annotated[int, Query(ge=1)] = 50,
    cursor: str | None = None,
) -> AuditPage:
    """Audit records of the auditor's centres, newest first, by patient, actor and period."""
    try:
        since, until = (t.astimezone(UTC) if t else None for t in (since, until))
    except OverflowError:
        raise ApiError("from and to must be times the calendar can hold") from None
    rows = await repository.search_visible(
        db,
        principal,
        patient_id=patient,
        actor=actor,
        since=since,
        until=until,
        after=_after(cursor, fhir=False),
        limit=min(count, state.settings.max_page_size) + 1,
    )
    page, next_cursor = _page(rows, min(count, state.settings.max_page_size))
    await _record_reading(db, principal, request, patient)
    return AuditPage(records=[AuditRecord.of(row) for row in page], next_cursor=next_cursor)


@router.get("/fhir/AuditEvent")
async def search_audit_events(
    request: Request, principal: AuditSearcher, db: Db, state: State
) -> FhirResponse:
    """The same records as FHIR AuditEvents (IHE BALP) in a searchset Bundle:
    ``patient``, ``agent`` (the user's token subject), ``date`` (ge/gt/le/lt)."""
    params = request.query_params
    unknown = sorted(set(params.keys()) - _FHIR_PARAMETERS)
    if unknown:
        raise FhirError.one(400, "invalid", f"unsupported search parameter(s): {unknown[0]}")
    count_text = params.get("_count", str(state.settings.default_page_size))
    if positive_count(count_text, 1) is None:
        raise FhirError.one(400, "invalid", "_count must be a positive integer", "_count")
    count = min(int(count_text), state.settings.max_page_size)
    patient = params.get("patient", "").removeprefix("Patient/") or None
    since, until = _date_bounds(params.getlist("date"), state.local_zone)
    rows = await repository.search_visible(
        db,
        principal,
        patient_id=patient,
        actor=params.get("agent"),
        since=since,
        until=until,
        after=_after(params.get("_cursor"), fhir=True),
        limit=count + 1,
    )
    page, next_cursor = _page(rows, count)
    await _record_reading(db, principal, request, patient)
    server = f"{str(request.base_url).rstrip('/')}/fhir"
    resources = [audit_event_to_fhir(row, server) for row in page]
    return FhirResponse(searchset(request, resources, next_cursor))


@router.get("/api/me/access-log", response_model=AccessLog)
async def my_access_log(
    request: Request,
    principal: Caller,
    db: Db,
    state: State,
    count: Annotated[int, Query(ge=1)] = 50,
    cursor: str | None = None,
) -> AccessLog:
    """Who has accessed my data: when, which role at which organisation, and what.

    For a patient's own token only. Left out: refused attempts, the patient's own use
    and the routine arrival of readings from their devices.
    """
    if principal.role is not Role.patient:
        raise Forbidden("the access log is a patient's view of their own data")
    limit = min(count, state.settings.max_page_size)
    rows = await repository.access_log(
        db, principal, after=_after(cursor, fhir=False), limit=limit + 1
    )
    page, next_cursor = _page(rows, limit)
    await _record_reading(db, principal, request, principal.subject)
    return AccessLog(entries=[_entry(row) for row in page], next_cursor=next_cursor)


def _entry(row: Any) -> AccessLogEntry:
    action = "export" if row.subtype == "export" else _ACTION_WORDS.get(row.action, "search")
    return AccessLogEntry(
        when=row.recorded_at,
        role=row.actor_role,
        organisation_id=row.centre_id,
        organisation=row.centre_name,
        action=action,
        resource_type=row.resource_type,
    )


async def _record_reading(
    db: AsyncConnection, principal: Principal, request: Request, patient_id: str | None
) -> None:
    """Reading the trail is an access too: one record, naming the patient if the
    reading was about one (then the patient's access log shows it)."""
    await record(
        db,
        principal,
        action=EXECUTE,
        subtype="search-type",
        resource_type="AuditEvent",
        patient_id=patient_id,
        query=redact_query(request.query_params.multi_items()),
    )


def _page(rows: Any, limit: int) -> tuple[list[Any], str | None]:
    page = list(rows[:limit])
    if len(rows) <= limit:
        return page, None
    last = page[-1]
    return page, encode_cursor([last.recorded_at.isoformat(), last.id])


def _after(cursor: str | None, *, fhir: bool) -> tuple[datetime, str] | None:
    if cursor is None:
        return None
    decoded = decode_cursor(cursor)
    try:
        if decoded is None or len(decoded) != 2:
            raise ValueError
        recorded_at = datetime.fromisoformat(str(decoded[0]))
        if recorded_at.tzinfo is None:
            raise ValueError
        return recorded_at, str(decoded[1])
    except ValueError:
        if fhir:
            raise FhirError.one(
                400, "invalid", "the paging cursor is not valid", "_cursor"
            ) from None
        raise ApiError("the paging cursor is not valid") from None


def _date_bounds(values: list[str], zone: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """``date=ge2026-01-01&date=lt2026-02-01``: a day is that whole (local) day; a
    dateTime must carry its offset."""
    since: datetime | None = None
    until: datetime | None = None
    for value in values:
        prefix, text = (
            (value[:2], value[2:]) if value[:2] in ("ge", "gt", "le", "lt") else ("eq", value)
        )
        try:
            if "T" in text:
                start = datetime.fromisoformat(text.replace("Z", "+00:00"))
                if start.tzinfo is None:
                    raise ValueError
                end = start + timedelta(microseconds=1)
            else:
                start = datetime.fromisoformat(text).replace(tzinfo=zone)
                end = start + timedelta(days=1)
            start, end = start.astimezone(UTC), end.astimezone(UTC)
        except (ValueError, OverflowError):
            raise FhirError.one(
                400, "invalid", "date must be a FHIR date, or a dateTime with an offset", "date"
            ) from None
        if prefix in ("ge", "eq"):
            since = start
        if prefix == "gt":
            since = end
        if prefix == "lt":
            until = start
        if prefix in ("le", "eq"):
            until = end
    return since, until
