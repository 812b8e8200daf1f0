"""Retracting a reading: the one update a stored reading accepts.

A reading sent in error (the wrong patient on the cuff, a test measurement) is withdrawn
by a FHIR update of the Observation to status ``entered-in-error``; nothing else about a
reading may change, since it is what a device measured. The body is the resource as
``GET`` answers it with only ``status`` changed: every other element must equal the
stored reading's (``id``, ``meta``, ``text`` and our triage interpretation aside), else
422 naming the element. The update is versioned: ``versionId`` goes up by one, the
version it replaces is kept whole in ``observation_version`` (``_history``), and
``If-Match`` with a version other than the current one answers 412. Repeating the update
on a reading already retracted changes nothing and answers it (a device's retry).

Who may: whoever may write readings for the patient (``service.tenancy``): the patient
themself (also the patient's gateway with the patient's token), a system client (the
gateway) or a nurse of the patient's centre. Triage then withdraws what rested on the
reading (``ReadingJudge.retracted``), in the same transaction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from service.audit import service as audit
from service.auth.principal import Principal
from service.fhirkit.outcome import FhirError, not_found
from service.ingest import repository as observations
from service.ingest import retraction_repository as repository
from service.ingest.models import ENTERED_IN_ERROR
from service.ingest.resources import TRIAGE_COLOUR_SYSTEM, observation_to_fhir
from service.ingest.triage_seam import ReadingJudge, Verdict
from service.models_base import new_id

_IF_MATCH = re.compile(r'\s*(?:W/)?"(\d{1,9})"\s*')
# Elements the server owns or adds: not part of what the device measured.
_SERVER_ELEMENTS = ("id", "meta", "text", "status")


@dataclass(frozen=True)
class Retracted:
    row: Mapping[Any, Any]
    changed: bool  # False: it was retracted before (a repeat answers what is stored)


async def retract(
    conn: AsyncConnection,
    principal: Principal,
    observation_id: str,
    body: dict[str, Any],
    *,
    if_match: str | None,
    judge: ReadingJudge,
    now: datetime,
) -> Retracted:
    current = await repository.get_visible_for_update(conn, principal, observation_id)
    if current is None:
        raise not_found("Observation")
    row = current._mapping
    if if_match is not None:
        _check_version(if_match, row["version_id"])
    check_body(body, row)
    # Audited as the update it is, alone or as a Bundle's entry, in the same transaction.
    await audit.record(
        conn,
        principal,
        action=audit.UPDATE,
        subtype="update",
        resource_type="Observation",
        resource_id=row["id"],
        patient_id=row["patient_id"],
        centre_id=row["centre_id"],
    )
    if row["status"] == ENTERED_IN_ERROR:
        return Retracted(row, changed=False)
    await repository.keep_version(
        conn,
        {
            "id": new_id(),
            "centre_id": row["centre_id"],
            "patient_id": row["patient_id"],
            "observation_id": row["id"],
            "version_id": row["version_id"],
            "status": row["status"],
            "resource": row["resource"],
            "last_updated": last_updated(row),
            "superseded_at": now,
            "superseded_by": principal.subject,
        },
    )
    resource = {**orjson.loads(row["resource"]), "status": ENTERED_IN_ERROR}
    updated = await repository.retract(
        conn,
        row["id"],
        row["version_id"],
        {
            "resource": orjson.dumps(resource).decode(),
            "retracted_at": now,
            "retracted_by": principal.subject,
            "retracted_by_role": principal.role.value,
        },
    )
    if updated is None:  # changed since it was read (only where rows are not locked)
        raise FhirError.one(
            409, "conflict", "the reading changed meanwhile; read it again", "Observation"
        )
    if updated.kind == "measurement":
        # The missing-reading scan must not count a reading that never was.
        await observations.recount_last_seen(conn, updated.patient_id, updated.measurement)
    await judge.retracted(conn, updated._mapping, principal.subject, now)
    return Retracted(updated._mapping, changed=True)


def check_body(body: dict[str, Any], row: Mapping[Any, Any]) -> None:
    """The body must be the stored reading with status entered-in-error; else the
    first element that differs is named."""
    if body.get("resourceType") != "Observation":
        raise FhirError.one(400, "invalid", "the body must be an Observation", "Observation")
    if body.get("id") != row["id"]:
        raise FhirError.one(
            400, "invalid", "the body's id must be the id in the URL", "Observation.id"
        )
    if body.get("status") != ENTERED_IN_ERROR:
        raise FhirError.one(
            422,
            "processing",
            "a stored reading can only be updated to status entered-in-error",
            "Observation.status",
        )
    stored = _comparable(observation_to_fhir(row))
    sent = _comparable(body)
    for element in sorted(stored.keys() | sent.keys()):
        if stored.get(element) != sent.get(element):
            raise FhirError.one(
                422,
                "processing",
                f"only status may change, to entered-in-error: {element} differs "
                "from the stored reading",
                f"Observation.{element}",
            )


def _comparable(resource: Mapping[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in resource.items() if k not in _SERVER_ELEMENTS}
    interpretation = [
        concept for concept in kept.pop("interpretation", None) or () if not _is_triage(concept)
    ]
    if interpretation:
        kept["interpretation"] = interpretation
    return kept


def _is_triage(concept: Any) -> bool:
    codings = concept.get("coding") if isinstance(concept, dict) else None
    return any(
        isinstance(c, dict) and c.get("system") == TRIAGE_COLOUR_SYSTEM for c in codings or ()
    )


def _check_version(if_match: str, version_id: int) -> None:
    match = _IF_MATCH.fullmatch(if_match)
    if match is None or int(match.group(1)) != version_id:
        raise FhirError.one(
            412,
            "conflict",
            f"If-Match does not name the current version ({version_id}); read it again",
            "Observation.meta.versionId",
        )


def last_updated(row: Mapping[Any, Any]) -> datetime:
    """When the current version was made: the retraction, else the reading's arrival."""
    retracted: datetime | None = row.get("retracted_at")
    received: datetime = row["received_at"]
    return retracted or received


def render(
    row: Mapping[Any, Any],
    received: dict[str, Any] | None = None,
    verdict: Verdict | None = None,
) -> dict[str, Any]:
    """A stored reading as FHIR, as of its current version: a retracted one carries no
    triage colour and its ``lastUpdated`` is the retraction's."""
    retracted = row["status"] == ENTERED_IN_ERROR
    resource = observation_to_fhir(row, received, None if retracted else verdict)
    resource["meta"]["lastUpdated"] = last_updated(row).isoformat()
    return resource


def render_version(current: Mapping[Any, Any], version: Mapping[Any, Any]) -> dict[str, Any]:
    """An earlier version, as it was served (without the triage colour of then)."""
    row = {**current, "resource": version["resource"], "version_id": version["version_id"]}
    resource = observation_to_fhir(row)
    resource["meta"]["lastUpdated"] = version["last_updated"].isoformat()
    return resource
