"""Ingest: validate, normalise, resolve, store idempotently, hand to triage.

Everything happens on the caller's connection, inside one transaction: a reading is
stored with its triage outcome or not at all. The single-Observation path costs one
patient lookup and one INSERT; Bundles resolve their patients and devices once and
store all their readings in one INSERT.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal
from service.devices import repository as devices
from service.fhirkit.catalogue import Catalogue
from service.fhirkit.outcome import FhirError
from service.fhirkit.validation import validate
from service.ingest import repository
from service.ingest.normalise import NormalisedReading, normalise
from service.ingest.triage_seam import ReadingJudge, StoredReading
from service.models_base import new_id
from service.patients import repository as patients


@dataclass(frozen=True)
class IngestContext:
    catalogue: Catalogue
    judge: ReadingJudge
    now: datetime
    future_skew: timedelta
    local_zone: ZoneInfo


@dataclass(frozen=True)
class PatientRef:
    id: str
    centre_id: str


@dataclass
class References:
    """What ``urn:uuid:`` fullUrls in a Bundle stand for, once resolved."""

    patients: dict[str, PatientRef] = field(default_factory=dict)
    devices: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Stored:
    row: Mapping[Any, Any]
    created: bool


@dataclass(frozen=True)
class PreparedReading:
    row: dict[str, Any]
    reading: NormalisedReading


async def create_observation(
    conn: AsyncConnection,
    principal: Principal,
    resource: dict[str, Any],
    ctx: IngestContext,
    *,
    raw: bytes | None = None,
) -> Stored:
    """Store one posted Observation; ``raw`` is the body exactly as received."""
    prepared = await prepare(conn, principal, resource, ctx, References(), raw=raw)
    return (await store(conn, [prepared], ctx))[0]


async def prepare(
    conn: AsyncConnection,
    principal: Principal,
    resource: dict[str, Any],
    ctx: IngestContext,
    refs: References,
    *,
    raw: bytes | None = None,
) -> PreparedReading:
    validate(resource, "Observation")
    reading = normalise(
        resource,
        ctx.catalogue,
        now=ctx.now,
        future_skew=ctx.future_skew,
        local_zone=ctx.local_zone,
    )
    patient = await resolve_patient(conn, principal, reading.subject_reference, refs)
    device_id = await _resolve_device(conn, patient, reading.device_reference, refs)
    verbatim = raw.decode() if raw is not None else orjson.dumps(resource).decode()
    return PreparedReading(_row(reading, verbatim, patient, device_id, ctx.now), reading)


async def store(
    conn: AsyncConnection, prepared: Sequence[PreparedReading], ctx: IngestContext
) -> list[Stored]:
    rows = [p.row for p in prepared]
    inserted = await repository.insert_new(conn, rows)
    repeats = [(r["patient_id"], r["dedup_key"]) for r in rows if r["id"] not in inserted]
    existing = await repository.find_by_dedup(conn, repeats)
    results: list[Stored] = []
    for row in rows:
        if row["id"] in inserted:
            results.append(Stored(row, created=True))
        else:
            results.append(Stored(existing[(row["patient_id"], row["dedup_key"])]._mapping, False))
    new = [_stored_reading(s.row) for s in results if s.created]
    if new:
        await ctx.judge.judge(conn, new)
    return results


async def resolve_patient(
    conn: AsyncConnection, principal: Principal, reference: str, refs: References
) -> PatientRef:
    """The reading's patient, if the caller may write for them.

    An unknown patient and one outside the caller's reach get the same answer.
    """
    if reference in refs.patients:
        return refs.patients[reference]
    patient_id = reference.removeprefix("Patient/")
    row = None
    if reference.startswith("Patient/") and "/" not in patient_id:
        row = await patients.get_for_readings(conn, principal, patient_id)
    if row is None:
        raise FhirError.one(
            422,
            "not-found",
            "the subject is not an enrolled patient you may report readings for",
            "Observation.subject",
        )
    if row.status == "ended":
        raise FhirError.one(
            422,
            "processing",
            "the patient's follow-up has ended; readings are no longer received",
            "Observation.subject",
        )
    return PatientRef(row.id, row.centre_id)


async def _resolve_device(
    conn: AsyncConnection, patient: PatientRef, reference: str | None, refs: References
) -> str | None:
    """A device we know, in the patient's centre; otherwise the reference is kept only
    in the verbatim resource (a reading is never refused for an unregistered device)."""
    if reference is None:
        return None
    if reference in refs.devices:
        return refs.devices[reference]
    if reference.startswith("Device/"):
        row = await devices.get_in_centre(conn, patient.centre_id, reference[len("Device/") :])
        return row.id if row is not None else None
    return None


def _row(
    reading: NormalisedReading,
    verbatim: str,
    patient: PatientRef,
    device_id: str | None,
    now: datetime,
) -> dict[str, Any]:
    single = reading.single
    identifier = reading.identifier
    return {
        "id": new_id(),
        "centre_id": patient.centre_id,
        "patient_id": patient.id,
        "device_id": device_id,
        "measurement": reading.measurement.key,
        "code": reading.measurement.code,
        "status": reading.status,
        "value": single.value if single else None,
        "unit": single.unit if single else None,
        "original_value": single.original_value if single else None,
        "original_unit": single.original_unit if single else None,
        "components": [v.as_component() for v in reading.values],
        "effective_at": reading.effective_at,
        "effective_original": reading.effective_original,
        "time_doubtful": reading.time_doubtful,
        "time_note": reading.time_note,
        "received_at": now,
        "dedup_key": reading.dedup_key(device_id),
        "identifier_system": identifier[0] if identifier else None,
        "identifier_value": identifier[1] if identifier else None,
        "resource": verbatim,
        "version_id": 1,
    }


def _stored_reading(row: Mapping[Any, Any]) -> StoredReading:
    return StoredReading(
        observation_id=row["id"],
        centre_id=row["centre_id"],
        patient_id=row["patient_id"],
        device_id=row["device_id"],
        measurement=row["measurement"],
        components=tuple(row["components"] or ()),
        effective_at=row["effective_at"],
        received_at=row["received_at"],
        time_doubtful=row["time_doubtful"],
    )
