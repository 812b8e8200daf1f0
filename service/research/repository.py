"""Queries of studies, export jobs and the cohort (who is in it, their offsets and
identities).

Studies and jobs are reached through the caller (``service.tenancy``); the cohort's
rows through the study (``tenancy.patients_in_study``), since a researcher reaches no
row of patient data themselves. The rows an export reads are ``service.research.sources``'.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal
from service.careplans.models import CarePlanVersion
from service.centres.models import Centre
from service.devices.models import Device
from service.ingest.models import Observation
from service.patients.models import Patient
from service.queue.models import Finding, TriageItem
from service.research.models import (
    ACTIVE_STATUSES,
    ExportJob,
    ExportStatus,
    Study,
    StudyCentre,
    StudyPatientOffset,
    StudyResearcher,
)
from service.resource_use.models import ExternalEvent, ResourceUseEvent
from service.tenancy import export_jobs_visible_to, patients_in_study, studies_visible_to

study = Study.__table__  # type: ignore[attr-defined]
study_centre = StudyCentre.__table__  # type: ignore[attr-defined]
study_researcher = StudyResearcher.__table__  # type: ignore[attr-defined]
offset = StudyPatientOffset.__table__  # type: ignore[attr-defined]
job = ExportJob.__table__  # type: ignore[attr-defined]
centre = Centre.__table__  # type: ignore[attr-defined]
patient = Patient.__table__  # type: ignore[attr-defined]
plan = CarePlanVersion.__table__  # type: ignore[attr-defined]
observation = Observation.__table__  # type: ignore[attr-defined]
finding = Finding.__table__  # type: ignore[attr-defined]
item = TriageItem.__table__  # type: ignore[attr-defined]
device = Device.__table__  # type: ignore[attr-defined]
nurse_event = ResourceUseEvent.__table__  # type: ignore[attr-defined]
external = ExternalEvent.__table__  # type: ignore[attr-defined]

# --- studies ----------------------------------------------------------------------------


async def existing_centres(conn: AsyncConnection, ids: Sequence[str]) -> set[str]:
    query = sa.select(centre.c.id).where(centre.c.id.in_(list(ids)))
    return set((await conn.execute(query)).scalars())


async def insert_study(
    conn: AsyncConnection, values: dict[str, Any], centres: Sequence[str], subjects: Sequence[str]
) -> None:
    await conn.execute(sa.insert(study).values(**values))
    await conn.execute(
        sa.insert(study_centre), [{"study_id": values["id"], "centre_id": c} for c in centres]
    )
    await conn.execute(
        sa.insert(study_researcher), [{"study_id": values["id"], "subject": s} for s in subjects]
    )


def _visible(principal: Principal) -> Any:
    return studies_visible_to(principal, study, study_researcher, study_centre)


async def visible_studies(conn: AsyncConnection, principal: Principal) -> Sequence[Row[Any]]:
    query = sa.select(study).where(_visible(principal)).order_by(study.c.created_at, study.c.id)
    return (await conn.execute(query)).all()


async def visible_study(
    conn: AsyncConnection, principal: Principal, study_id: str
) -> Row[Any] | None:
    query = sa.select(study).where(study.c.id == study_id, _visible(principal))
    return (await conn.execute(query)).first()


async def get_study(conn: AsyncConnection, study_id: str) -> Row[Any] | None:
    return (await conn.execute(sa.select(study).where(study.c.id == study_id))).first()


async def overlapping_studies(conn: AsyncConnection, study_id: str) -> Sequence[Row[Any]]:
    """The other studies that have released something and have a researcher in common
    with ``study_id``: what an export of it could be joined with."""
    ours = sa.select(study_researcher.c.subject).where(study_researcher.c.study_id == study_id)
    shared = sa.exists().where(
        study_researcher.c.study_id == study.c.id, study_researcher.c.subject.in_(ours)
    )
    query = (
        sa.select(study)
        .where(study.c.id != study_id, study.c.finest_level.is_not(None), shared)
        .order_by(study.c.created_at, study.c.id)
    )
    return (await conn.execute(query)).all()


async def finest_level(conn: AsyncConnection, study_id: str) -> str | None:
    query = sa.select(study.c.finest_level).where(study.c.id == study_id)
    level: str | None = (await conn.execute(query)).scalar_one_or_none()
    return level


async def set_finest_level(conn: AsyncConnection, study_id: str, level: str) -> None:
    await conn.execute(sa.update(study).where(study.c.id == study_id).values(finest_level=level))


async def links(
    conn: AsyncConnection, study_ids: Sequence[str]
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Per study: its centres and its researchers, sorted."""
    ids = list(study_ids)
    centres: dict[str, list[str]] = {i: [] for i in ids}
    subjects: dict[str, list[str]] = {i: [] for i in ids}
    rows = await conn.execute(
        sa.select(study_centre).where(study_centre.c.study_id.in_(ids)).order_by("centre_id")
    )
    for row in rows:
        centres[row.study_id].append(row.centre_id)
    rows = await conn.execute(
        sa.select(study_researcher).where(study_researcher.c.study_id.in_(ids)).order_by("subject")
    )
    for row in rows:
        subjects[row.study_id].append(row.subject)
    return centres, subjects


# --- export jobs --------------------------------------------------------------------------


async def insert_job(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(sa.insert(job).values(**values))


async def active_jobs(conn: AsyncConnection, study_id: str, subject: str) -> int:
    query = sa.select(sa.func.count()).where(
        job.c.study_id == study_id,
        job.c.requested_by == subject,
        job.c.status.in_(ACTIVE_STATUSES),
    )
    return int((await conn.execute(query)).scalar_one())


async def visible_job(conn: AsyncConnection, principal: Principal, job_id: str) -> Row[Any] | None:
    query = sa.select(job).where(
        job.c.id == job_id, export_jobs_visible_to(principal, job, study_researcher)
    )
    return (await conn.execute(query)).first()


async def get_job(conn: AsyncConnection, job_id: str) -> Row[Any] | None:
    return (await conn.execute(sa.select(job).where(job.c.id == job_id))).first()


async def next_queued(conn: AsyncConnection) -> str | None:
    query = (
        sa.select(job.c.id)
        .where(job.c.status == ExportStatus.queued)
        .order_by(job.c.created_at, job.c.id)
        .limit(1)
    )
    return (await conn.execute(query)).scalar_one_or_none()


async def move(
    conn: AsyncConnection, job_id: str, from_statuses: Sequence[str], **values: Any
) -> bool:
    """One conditional UPDATE: of two processes moving the same job, one wins."""
    result = await conn.execute(
        sa.update(job)
        .where(job.c.id == job_id, job.c.status.in_(list(from_statuses)))
        .values(**values)
    )
    return bool(result.rowcount)


async def note_poll(conn: AsyncConnection, job_id: str, now: datetime, not_after: datetime) -> bool:
    """Record a poll at ``now`` unless the last one was after ``not_after``."""
    result = await conn.execute(
        sa.update(job)
        .where(
            job.c.id == job_id,
            sa.or_(job.c.polled_at.is_(None), job.c.polled_at <= not_after),
        )
        .values(polled_at=now)
    )
    return bool(result.rowcount)


async def jobs_where(conn: AsyncConnection, *conditions: Any) -> Sequence[Row[Any]]:
    return (await conn.execute(sa.select(job.c.id, job.c.status).where(*conditions))).all()


# --- the cohort -------------------------------------------------------------------------


def _newest_plan() -> Any:
    return (
        sa.select(plan.c.patient_id, sa.func.max(plan.c.version).label("version"))
        .group_by(plan.c.patient_id)
        .subquery()
    )


async def cohort(
    conn: AsyncConnection,
    centre_ids: Sequence[str],
    protocols: Sequence[str],
    enrolled_from: datetime | None,
    enrolled_before: datetime | None,
    cut: datetime,
) -> Sequence[Row[Any]]:
    """The study's patients with the facts the export generalises, and their protocol
    (the newest care-plan version's; None without a plan)."""
    newest = _newest_plan()
    query: Any = (
        sa.select(
            patient.c.id,
            patient.c.centre_id,
            patient.c.birth_date,
            patient.c.sex,
            patient.c.municipality,
            patient.c.enrolled_at,
            patient.c.status,
            plan.c.protocol,
        )
        .select_from(patient)
        .outerjoin(newest, newest.c.patient_id == patient.c.id)
        .outerjoin(
            plan, sa.and_(plan.c.patient_id == patient.c.id, plan.c.version == newest.c.version)
        )
        .where(patients_in_study(centre_ids, patient), patient.c.enrolled_at <= cut)
        .order_by(patient.c.id)
    )
    if protocols:
        query = query.where(plan.c.protocol.in_(list(protocols)))
    if enrolled_from is not None:
        query = query.where(patient.c.enrolled_at >= enrolled_from)
    if enrolled_before is not None:
        query = query.where(patient.c.enrolled_at < enrolled_before)
    return (await conn.execute(query)).all()


async def offsets(conn: AsyncConnection, study_id: str) -> dict[str, int]:
    query = sa.select(offset.c.patient_id, offset.c.offset_days).where(
        offset.c.study_id == study_id
    )
    return {row.patient_id: row.offset_days for row in await conn.execute(query)}


async def add_offsets(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert offsets not drawn yet; a concurrent export's draw wins, both then read it."""
    if not rows:
        return
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    await conn.execute(insert(offset).on_conflict_do_nothing(), list(rows))


async def identities(
    conn: AsyncConnection, centre_ids: Sequence[str]
) -> tuple[list[tuple[str, str]], list[str]]:
    """Names and device identifiers of every patient of the study's centres: what the
    post-write scan looks for. Read for the check only, never written."""
    names = await conn.execute(
        sa.select(patient.c.given_name, patient.c.family_name).where(
            patients_in_study(centre_ids, patient)
        )
    )
    devices = await conn.execute(
        sa.select(device.c.identifier_value, device.c.resource).where(
            patients_in_study(centre_ids, device)
        )
    )
    serials: list[str] = []
    for value, resource in devices:
        serials.append(value)
        serials.extend(_serial_numbers(resource))
    return [(g, f) for g, f in names], serials


def _serial_numbers(resource: str | None) -> list[str]:
    try:
        document = orjson.loads(resource or "{}")
    except orjson.JSONDecodeError:
        return []
    if not isinstance(document, dict):
        return []
    found = [document.get("serialNumber")]
    found += [i.get("value") for i in document.get("identifier") or () if isinstance(i, dict)]
    return [s for s in found if isinstance(s, str)]
