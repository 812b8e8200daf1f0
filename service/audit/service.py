"""Recording who did what with whose health data, in the transaction that did it.

Routes call ``record`` (one resource), ``record_search`` or ``record_bundle`` on the
connection of their own transaction, so a reading and its audit record are committed
together or not at all, and a failed audit write fails the request: no access without
a trace. Refused requests are recorded afterwards, on a transaction of their own
(``service.audit.refusals``), since the request's own has rolled back by then.

Searches write one record per patient in the result, as the IHE Basic Audit Log
Patterns ask: an auditor asking about one patient, and the patient's own access log,
then find every search that showed that patient's data. A search that showed no one
writes one record, naming the patient it asked for, if any.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from service.audit import repository
from service.audit.models import Outcome
from service.audit.redact import redact_query, scrub
from service.auth.principal import Principal
from service.models_base import new_id, utcnow
from service.request_context import current_client_address, current_request_id

# FHIR AuditEvent.action codes.
CREATE, READ, UPDATE, DELETE, EXECUTE = "C", "R", "U", "D", "E"


def outcome_of(status: int) -> Outcome:
    if status < 400:
        return Outcome.success
    if status in (401, 403, 404):
        return Outcome.denied
    return Outcome.failed


async def record(
    conn: AsyncConnection,
    principal: Principal | None,
    *,
    action: str,
    subtype: str,
    resource_type: str,
    resource_id: str | None = None,
    patient_id: str | None = None,
    centre_id: str | None = None,
    query: str | None = None,
    status: int = 200,
) -> None:
    """Write one audit record on ``conn``, in the caller's transaction."""
    row = _row(
        principal,
        utcnow(),
        action=action,
        subtype=subtype,
        resource_type=resource_type,
        resource_id=resource_id,
        patient_id=patient_id,
        centre_id=centre_id,
        query=query,
        status=status,
    )
    await repository.insert(conn, [row])


def creation_row(
    principal: Principal, resource_type: str, row: Mapping[Any, Any]
) -> dict[str, Any]:
    """The record of creating ``row`` (answered 201), for a caller that writes it in the
    same statement as the row itself (``service.ingest.repository.insert_one``): the hot
    path then pays one round trip for both."""
    return _row(
        principal,
        utcnow(),
        action=CREATE,
        subtype="create",
        resource_type=resource_type,
        resource_id=row["id"],
        patient_id=row["patient_id"],
        centre_id=row["centre_id"],
        query=None,
        status=201,
    )


async def record_row(
    conn: AsyncConnection,
    principal: Principal,
    action: str,
    subtype: str,
    resource_type: str,
    row: Mapping[Any, Any],
    status: int = 200,
) -> None:
    """One record about a stored row of a patient's data: its id, patient and centre."""
    await record(
        conn,
        principal,
        action=action,
        subtype=subtype,
        resource_type=resource_type,
        resource_id=row["id"],
        patient_id=row["patient_id"],
        centre_id=row["centre_id"],
        status=status,
    )


async def record_search(
    conn: AsyncConnection,
    principal: Principal,
    resource_type: str,
    params: Iterable[tuple[str, str]],
    patients: Iterable[tuple[str, str]],
    *,
    requested_patient: str | None = None,
) -> None:
    """A search: one record per distinct (patient id, centre id) it returned, in one
    INSERT, with the search parameters (identity numbers redacted); if it returned no
    one, one record about ``requested_patient``, the patient it asked for, if any."""
    now = utcnow()
    query = redact_query(params)
    touched: list[tuple[str | None, str | None]] = list(dict.fromkeys(patients))
    rows = [
        _row(
            principal,
            now,
            action=EXECUTE,
            subtype="search-type",
            resource_type=resource_type,
            resource_id=None,
            patient_id=patient_id,
            centre_id=centre_id,
            query=query,
            status=200,
        )
        for patient_id, centre_id in touched or [(requested_patient, None)]
    ]
    await repository.insert(conn, rows)


async def record_bundle(
    conn: AsyncConnection, principal: Principal, bundle_type: str, response: dict[str, Any]
) -> None:
    """A processed Bundle: one record per patient whose readings it stored or whose
    Patient entry it resolved, and, if entries of a batch were refused, one more
    with the first refusal's status."""
    patient_ids: list[str] = []
    observation_ids: list[str] = []
    refused: list[int] = []
    for entry in response.get("entry") or ():
        answer = entry.get("response") or {}
        kind, _, rest = str(answer.get("location") or "").partition("/")
        if kind == "Patient":
            patient_ids.append(rest)
        elif kind == "Observation":
            observation_ids.append(rest.partition("/")[0])
        status = str(answer.get("status", "200")).partition(" ")[0]
        if not status.startswith("2"):
            refused.append(int(status) if status.isdigit() else 400)
    now = utcnow()
    owners = await repository.owners_of_bundle(conn, patient_ids, observation_ids)
    touched: list[tuple[str | None, str | None, int]] = [(p, c, 200) for p, c in owners]
    if refused or not touched:
        touched.append((None, None, refused[0] if refused else 200))
    rows = [
        _row(
            principal,
            now,
            action=CREATE,
            subtype=bundle_type,
            resource_type="Bundle",
            resource_id=None,
            patient_id=patient_id,
            centre_id=centre_id,
            query=None,
            status=status,
        )
        for patient_id, centre_id, status in touched
    ]
    await repository.insert(conn, rows)


def _row(
    principal: Principal | None,
    now: datetime,
    *,
    action: str,
    subtype: str,
    resource_type: str,
    resource_id: str | None,
    patient_id: str | None,
    centre_id: str | None,
    query: str | None,
    status: int,
) -> dict[str, Any]:
    if centre_id is None and principal is not None and len(principal.centres) == 1:
        centre_id = principal.centres[0]
    if patient_id is not None and (len(patient_id) > 36 or scrub(patient_id) != patient_id):
        patient_id = None  # not one of our ids (perhaps an identity number): never stored
    return {
        "id": new_id(),
        "recorded_at": now,
        "actor": principal.subject if principal else None,
        "actor_role": principal.role.value if principal else None,
        "actor_issuer": principal.issuer if principal else None,
        "actor_centres": (" ".join(principal.centres) or None) if principal else None,
        "client_id": principal.client_id if principal else None,
        "client_address": current_client_address(),
        "centre_id": centre_id,
        "patient_id": patient_id,
        "action": action,
        "subtype": subtype,
        "resource_type": resource_type,
        "resource_id": scrub(resource_id)[:64] if resource_id else None,
        "query": query,
        "outcome": outcome_of(status).value,
        "status": status,
        "request_id": current_request_id(),
    }
