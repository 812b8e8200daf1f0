"""Ingest: validate, normalise, resolve, store idempotently, hand to triage.

Everything happens on the caller's connection, inside one transaction: a reading is
stored with its triage outcome or not at all. The single-Observation path costs one
patient lookup and one INSERT; Bundles resolve their patients and devices once and
store all their readings in one INSERT.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal
from service.careplans import repository as careplans
from service.devices import loans as device_loans
from service.devices import repository as devices
from service.fhirkit.catalogue import Catalogue
from service.fhirkit.outcome import FhirError
from service.fhirkit.validation import validate
from service.ingest import device_clocks, repository, store_one
from service.ingest.normalise import (
    NormalisedReading,
    check_not_in_future,
    normalise,
)
from service.ingest.refs import DeviceRef, PatientRef, References
from service.ingest.triage_seam import ReadingJudge, StoredReading, Verdict
from service.models_base import new_id


@dataclass(frozen=True)
class IngestContext:
    catalogue: Catalogue
    judge: ReadingJudge
    now: datetime
    future_skew: timedelta
    local_zone: ZoneInfo
    # Earlier readings imported from another service (``service.ingest.history``): stored
    # like any reading, never handed to the judge. They were judged where they were taken;
    # judging them here would raise items today for what happened weeks ago.
    history: bool = False


@dataclass(frozen=True)
class Stored:
    row: Mapping[Any, Any]
    created: bool
    # The triage colour and the patient's advice. None only for what triage never looks
    # at (a context observation, ingest without triage); a measurement nobody judged gets
    # a verdict without a colour that says why.
    verdict: Verdict | None = None


@dataclass(frozen=True)
class PreparedReading:
    row: dict[str, Any]
    reading: NormalisedReading
    # The patient's triage facts, read with the patient (PatientRef.triage).
    triage: Any = None


async def create_observation(
    conn: AsyncConnection,
    principal: Principal,
    resource: dict[str, Any],
    ctx: IngestContext,
    *,
    raw: bytes | None = None,
    audit_created: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None,
) -> Stored:
    """Store one posted Observation; ``raw`` is the body exactly as received.

    ``audit_created`` builds the audit record of a new reading from its row: it is then
    written by the statement that stores the reading (``store_one``), and the caller
    records only a repeat (answered 200 with the stored reading)."""
    prepared = await prepare(conn, principal, resource, ctx, References(), raw=raw)
    return (await store(conn, [prepared], ctx, audit_created=audit_created))[0]


async def prepare(
    conn: AsyncConnection,
    principal: Principal,
    resource: dict[str, Any],
    ctx: IngestContext,
    refs: References,
    *,
    raw: bytes | None = None,
    full_url: str | None = None,
) -> PreparedReading:
    validate(resource, "Observation")
    reading = normalise(resource, ctx.catalogue, local_zone=ctx.local_zone)
    patient, device = await _resolve_subject(conn, principal, reading, refs, ctx)
    if device is not None and reading.clock is None:
        reading = await device_clocks.corrected(conn, reading, resource, patient, device, refs)
    if device is not None and reading.clock is None:
        await _check_holder(conn, device, patient, reading, ctx)
    check_not_in_future(reading, now=ctx.now, future_skew=ctx.future_skew)
    if reading.clock is not None and device is not None:
        await device_clocks.set_clock(
            conn, patient.id, device, reading, full_url, refs, history=ctx.history
        )
    verbatim = raw.decode() if raw is not None else orjson.dumps(resource).decode()
    row = _row(reading, verbatim, patient, device.id if device else None, ctx.now)
    if full_url is not None and full_url in refs.observations:
        row["id"] = refs.observations[full_url]
    row["links"] = _links(resource, refs) or None
    return PreparedReading(row, reading, patient.triage)


async def store(
    conn: AsyncConnection,
    prepared: Sequence[PreparedReading],
    ctx: IngestContext,
    *,
    audit_created: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None,
) -> list[Stored]:
    rows = [p.row for p in prepared]
    if ctx.history:  # stored, never judged: see IngestContext.history
        for row in rows:
            row["not_judged"] = "history"
    evidence: dict[str, Sequence[Any]] = {}
    if audit_created is not None and len(rows) == 1:
        row, subject = rows[0], prepared[0].triage
        wanted = None
        if not ctx.history and subject is not None and row["kind"] == "measurement":
            wanted = ctx.judge.evidence_wanted(subject, [_stored_reading(row)])
        created, rows_read = await store_one.insert_one(conn, row, audit_created(row), wanted)
        inserted = {row["id"]} if created else set()
        if rows_read is not None:
            evidence[row["patient_id"]] = rows_read
    else:
        inserted = await repository.insert_new(conn, rows)
        await repository.note_last_seen(conn, [r for r in rows if r["id"] in inserted])
    repeats = [(r["patient_id"], r["dedup_key"]) for r in rows if r["id"] not in inserted]
    existing = await repository.find_by_dedup(conn, repeats)
    stored: list[tuple[Mapping[Any, Any], bool]] = [
        (row, True)
        if row["id"] in inserted
        else (existing[(row["patient_id"], row["dedup_key"])]._mapping, False)
        for row in rows
    ]
    if ctx.history:  # the verdict says so: "saved as earlier history, not assessed"
        verdicts = await ctx.judge.verdicts(conn, [row for row, _ in stored])
        return [Stored(row, created, verdicts.get(row["id"])) for row, created in stored]
    new = [
        _stored_reading(row) for row, created in stored if created and row["kind"] == "measurement"
    ]
    known = {p.row["patient_id"]: p.triage for p in prepared if p.triage is not None}
    verdicts = dict(await ctx.judge.judge(conn, new, ctx.now, known, evidence)) if new else {}
    await _keep_why_not_judged(conn, verdicts)
    again = [row for row, created in stored if not created]
    if again:
        verdicts.update(await ctx.judge.verdicts(conn, again))
    return [Stored(row, created, verdicts.get(row["id"])) for row, created in stored]


async def _keep_why_not_judged(conn: AsyncConnection, verdicts: Mapping[str, Verdict]) -> None:
    """A reading nobody judged keeps the reason, so a later read answers as the POST did
    (and never turns into "green" once the patient is active again). Only such readings
    are written twice; a judged reading costs nothing more."""
    by_reason: dict[str, list[str]] = {}
    for observation_id, verdict in verdicts.items():
        if verdict.not_judged is not None:
            by_reason.setdefault(verdict.not_judged, []).append(observation_id)
    for reason, ids in by_reason.items():
        await repository.mark_not_judged(conn, ids, reason)


async def resolve_patient(
    conn: AsyncConnection, principal: Principal, reference: str, refs: References
) -> PatientRef:
    """The reading's patient, if the caller may write for them.

    An unknown patient and one outside the caller's reach get the same answer.
    """
    if reference in refs.patients:
        return refs.patients[reference]
    patient = await _lookup_patient(conn, principal, reference)
    refs.patients[reference] = patient  # a Bundle of 100 readings looks its patient up once
    return patient


async def _lookup_patient(
    conn: AsyncConnection, principal: Principal, reference: str
) -> PatientRef:
    patient_id = reference.removeprefix("Patient/")
    row = None
    if reference.startswith("Patient/") and "/" not in patient_id:
        row = await careplans.subject_for_readings(conn, principal, patient_id)
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
    return PatientRef(row.id, row.centre_id, row)


async def _resolve_subject(
    conn: AsyncConnection,
    principal: Principal,
    reading: NormalisedReading,
    refs: References,
    ctx: IngestContext,
) -> tuple[PatientRef, DeviceRef | None]:
    """The patient the observation is about, and the device that measured it.

    A coincident timestamp is about a device (its subject is the Device): it belongs to
    the patient who held the device at its time, who must be the Bundle's patient if
    the Bundle names one. A device never lent is lent on first use to that patient.
    """
    subject = reading.subject_reference
    if reading.kind == "context" and (subject in refs.devices or subject.startswith("Device/")):
        device = await _device(conn, subject, refs, centre_id=None)
        bundle_patient = refs.only_patient()
        if device is not None and not device.loans and bundle_patient is not None:
            await _lend_on_first_use(conn, device, bundle_patient, reading, ctx)
        owner = None
        if device is not None:
            owner = device_loans.holder_at(device.loans, reading.effective_at)
            device.loans = await device_loans.reach_back(conn, device.loans, reading.effective_at)
        if owner is None or (bundle_patient is not None and owner != bundle_patient.id):
            raise FhirError.one(
                422,
                "not-found",
                "the subject device was not lent to this Bundle's patient (or to one you "
                "may report for) at this time",
                "Observation.subject",
            )
        patient = await resolve_patient(conn, principal, f"Patient/{owner}", refs)
        return patient, device
    patient = await resolve_patient(conn, principal, subject, refs)
    device = None
    if reading.device_reference is not None:
        device = await _device(conn, reading.device_reference, refs, centre_id=patient.centre_id)
    return patient, device


async def _check_holder(
    conn: AsyncConnection,
    device: DeviceRef,
    patient: PatientRef,
    reading: NormalisedReading,
    ctx: IngestContext,
) -> None:
    """A reading is filed under whoever held its device at its (corrected) time; from a
    device another patient held then, or no one (returned, not yet lent), it is
    refused, never filed under someone else."""
    if not device.loans:
        await _lend_on_first_use(conn, device, patient, reading, ctx)
    holder = device_loans.holder_at(device.loans, reading.effective_at)
    if holder == patient.id:
        device.loans = await device_loans.reach_back(conn, device.loans, reading.effective_at)
    else:
        raise FhirError.one(
            422,
            "processing",
            "the device was not lent to this patient when the reading was taken "
            "(returned, or lent to someone else); the centre records who holds a device",
            "Observation.device",
        )


async def _lend_on_first_use(
    conn: AsyncConnection,
    device: DeviceRef,
    patient: PatientRef,
    reading: NormalisedReading,
    ctx: IngestContext,
) -> None:
    device.loans = await device_loans.lend_on_first_use(
        conn,
        device_id=device.id,
        centre_id=device.centre_id,
        patient_id=patient.id,
        at=reading.effective_at,
        now=ctx.now,
    )


async def _device(
    conn: AsyncConnection, reference: str, refs: References, *, centre_id: str | None
) -> DeviceRef | None:
    """A device we know; otherwise None, and the reference is kept only in the verbatim
    resource (a reading is never refused for an unregistered device)."""
    known = refs.devices.get(reference)
    if known is None and reference.startswith("Device/"):
        row = await devices.get(conn, reference[len("Device/") :])
        if row is not None:
            known = await device_ref(conn, row)
            refs.devices[reference] = known
    if known is None or (centre_id is not None and known.centre_id != centre_id):
        return None
    return known


async def device_ref(conn: AsyncConnection, row: Any) -> DeviceRef:
    history = (await device_loans.loans_of(conn, [row.id]))[row.id]
    return DeviceRef(row.id, row.centre_id, history, row.clock_offset_seconds, row.clock_doubtful)


def _links(resource: dict[str, Any], refs: References) -> list[str]:
    """Our ids of the observations this one points at, where they came in the same Bundle."""
    references: list[Any] = list(device_clocks.coincident_references(resource))
    for element in ("derivedFrom", "hasMember"):
        references.extend(r.get("reference") for r in resource.get(element) or ())
    return [refs.observations[r] for r in references if r in refs.observations]


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
        "kind": reading.kind,
        "measurement": reading.key,
        "code": reading.code,
        "status": reading.status,
        "value": single.value if single else None,
        "unit": single.unit if single else None,
        "original_value": single.original_value if single else None,
        "original_unit": single.original_unit if single else None,
        "components": [v.as_component() for v in reading.values] or None,
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
