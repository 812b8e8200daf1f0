"""Care plan versions and the patient facts triage needs, reached through the caller's
reach (``service.tenancy``) or, for the ingest judge and the worker, by the patient
already resolved for them."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal
from service.careplans.models import CarePlanVersion
from service.patients.models import Patient
from service.queue.models import TriageItem
from service.tenancy import patients_for_readings

plan = CarePlanVersion.__table__  # type: ignore[attr-defined]
patient = Patient.__table__  # type: ignore[attr-defined]
item = TriageItem.__table__  # type: ignore[attr-defined]

_PATIENT_FACTS = (
    patient.c.id,
    patient.c.centre_id,
    patient.c.status,
    patient.c.enrolled_at,
    patient.c.active_since,
)


async def visible_patient(
    conn: AsyncConnection, principal: Principal, patient_id: str, *, for_update: bool = False
) -> Row[Any] | None:
    """The patient if the caller reaches their clinical data (a patient: themselves;
    staff: their centres'). ``for_update`` serialises plan changes of one patient."""
    query: Any = sa.select(*_PATIENT_FACTS).where(
        patient.c.id == patient_id, patients_for_readings(principal, patient)
    )
    if for_update:
        query = query.with_for_update()
    return (await conn.execute(query)).first()


def _latest_version() -> Any:
    newest = (
        sa.select(plan.c.patient_id, sa.func.max(plan.c.version).label("version"))
        .group_by(plan.c.patient_id)
        .subquery()
    )
    return sa.and_(plan.c.patient_id == newest.c.patient_id, plan.c.version == newest.c.version)


async def current(conn: AsyncConnection, patient_id: str) -> Row[Any] | None:
    query = (
        sa.select(plan)
        .where(plan.c.patient_id == patient_id)
        .order_by(plan.c.version.desc())
        .limit(1)
    )
    return (await conn.execute(query)).first()


async def version(conn: AsyncConnection, patient_id: str, number: int) -> Row[Any] | None:
    query = sa.select(plan).where(plan.c.patient_id == patient_id, plan.c.version == number)
    return (await conn.execute(query)).first()


async def versions(conn: AsyncConnection, patient_id: str) -> Sequence[Row[Any]]:
    query = sa.select(plan).where(plan.c.patient_id == patient_id).order_by(plan.c.version)
    return (await conn.execute(query)).all()


async def insert(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(sa.insert(plan).values(**values))


@functools.cache
def _triage_subjects_query() -> Any:
    """Built once: on the hot path, building it cost as much as running it. The newest
    plan by a correlated max on the (patient, version) index, and the unresolved item by
    the partial index's own predicate, written as literal SQL so the index applies."""
    return _subjects_select().where(patient.c.id.in_(sa.bindparam("patient_ids", expanding=True)))


@functools.lru_cache(maxsize=1024)
def _subject_for_readings_query(role: Any, subject: str, centres: tuple[str, ...]) -> Any:
    """The ingest hot path's one look-up of its patient: within the caller's reach (the
    shared reach clause), with the plan and the open item triage will need. Built once
    per caller's reach."""
    reach = Principal(subject=subject, role=role, centres=centres)
    return _subjects_select().where(
        patient.c.id == sa.bindparam("patient_id"), patients_for_readings(reach, patient)
    )


def _subjects_select() -> Any:
    newest = (
        sa.select(sa.func.max(plan.c.version))
        .where(plan.c.patient_id == patient.c.id)
        .correlate(patient)
        .scalar_subquery()
    )
    return (
        sa.select(
            *_PATIENT_FACTS,
            plan.c.version.label("plan_version"),
            plan.c.protocol,
            plan.c.settings,
            item.c.id.label("item_id"),
            item.c.back_in_range.label("item_back_in_range"),
        )
        .select_from(patient)
        .outerjoin(plan, sa.and_(plan.c.patient_id == patient.c.id, plan.c.version == newest))
        .outerjoin(
            item,
            sa.and_(item.c.patient_id == patient.c.id, sa.text("triage_item.state != 'resolved'")),
        )
    )


async def subject_for_readings(
    conn: AsyncConnection, principal: Principal, patient_id: str
) -> Row[Any] | None:
    """A patient the caller may report readings for, as ``triage_subjects`` answers it:
    one round trip resolves the reading's patient and what triage needs of them."""
    query = _subject_for_readings_query(principal.role, principal.subject, principal.centres)
    return (await conn.execute(query, {"patient_id": patient_id})).first()


async def triage_subjects(conn: AsyncConnection, patient_ids: Sequence[str]) -> dict[str, Row[Any]]:
    """Per patient: the facts triage needs, the current plan (``plan_version`` None: no
    plan yet) and the unresolved item (``item_id`` None: none). One query for a whole
    Bundle: the hot path pays for it once."""
    rows = await conn.execute(_triage_subjects_query(), {"patient_ids": list(patient_ids)})
    return {r.id: r for r in rows}


async def active_with_plans(conn: AsyncConnection) -> Sequence[Row[Any]]:
    """Every active patient with a plan: what the missing-reading scan walks."""
    query: Any = (
        sa.select(
            *_PATIENT_FACTS,
            plan.c.version.label("plan_version"),
            plan.c.protocol,
            plan.c.settings,
        )
        .select_from(patient)
        .join(plan, plan.c.patient_id == patient.c.id)
        .where(patient.c.status == "active", _latest_version())
    )
    return (await conn.execute(query)).all()


async def set_status(
    conn: AsyncConnection, patient_id: str, status: str, active_since: Any
) -> None:
    values: dict[str, Any] = {"status": status, "version_id": patient.c.version_id + 1}
    if status == "active":
        values["active_since"] = active_since
    await conn.execute(sa.update(patient).where(patient.c.id == patient_id).values(**values))
