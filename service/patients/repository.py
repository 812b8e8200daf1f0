"""Queries of patients, restricted to what the caller may reach (``centre_of`` is the
operator's, for the command line)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal, Role
from service.patients.models import Patient, PatientIdentifier
from service.tenancy import patients_for_readings, patients_visible_to

patient = Patient.__table__  # type: ignore[attr-defined]
identifier = PatientIdentifier.__table__  # type: ignore[attr-defined]


async def insert(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(sa.insert(patient).values(**values))


async def get_visible(
    conn: AsyncConnection, principal: Principal, patient_id: str
) -> Row[Any] | None:
    query = sa.select(patient).where(
        patient.c.id == patient_id, patients_visible_to(principal, patient)
    )
    return (await conn.execute(query)).first()


async def identity_exists(conn: AsyncConnection, identity_hash: str) -> bool:
    query = sa.select(patient.c.id).where(patient.c.identity_hash == identity_hash)
    return (await conn.execute(query)).first() is not None


async def search_visible(
    conn: AsyncConnection,
    principal: Principal,
    *,
    identity_hash: str | None,
    after_id: str | None,
    limit: int,
) -> Sequence[Row[Any]]:
    query = sa.select(patient).where(patients_visible_to(principal, patient))
    if identity_hash is not None:
        query = query.where(patient.c.identity_hash == identity_hash)
    if after_id is not None:
        query = query.where(patient.c.id > after_id)
    return (await conn.execute(query.order_by(patient.c.id).limit(limit))).all()


@functools.lru_cache(maxsize=1024)
def _for_readings_query(role: Role, subject: str, centres: tuple[str, ...]) -> Any:
    """The ingest hot path's patient lookup, built once per caller's reach: building
    it cost more than running it. The reach clause is still the shared one."""
    reach = Principal(subject=subject, role=role, centres=centres)
    return sa.select(patient.c.id, patient.c.centre_id, patient.c.status).where(
        patient.c.id == sa.bindparam("patient_id"), patients_for_readings(reach, patient)
    )


async def get_for_readings(
    conn: AsyncConnection, principal: Principal, patient_id: str
) -> Row[Any] | None:
    query = _for_readings_query(principal.role, principal.subject, principal.centres)
    return (await conn.execute(query, {"patient_id": patient_id})).first()


async def find_for_readings_by_identity(
    conn: AsyncConnection, principal: Principal, identity_hash: str
) -> Row[Any] | None:
    query = sa.select(patient.c.id, patient.c.centre_id, patient.c.status).where(
        patient.c.identity_hash == identity_hash, patients_for_readings(principal, patient)
    )
    return (await conn.execute(query)).first()


async def find_for_readings_by_other_identifier(
    conn: AsyncConnection, principal: Principal, system: str, value_hash: str
) -> Row[Any] | None:
    query = (
        sa.select(patient.c.id, patient.c.centre_id, patient.c.status)
        .join(identifier, identifier.c.patient_id == patient.c.id)
        .where(
            identifier.c.system == system,
            identifier.c.value_hash == value_hash,
            patients_for_readings(principal, patient),
        )
    )
    return (await conn.execute(query)).first()


async def add_identifiers(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(sa.insert(identifier), rows)


async def other_identifier_exists(conn: AsyncConnection, system: str, value_hash: str) -> bool:
    query = sa.select(identifier.c.id).where(
        identifier.c.system == system, identifier.c.value_hash == value_hash
    )
    return (await conn.execute(query)).first() is not None


async def under_other_keys(conn: AsyncConnection, key_id: str, limit: int) -> Sequence[Row[Any]]:
    """Patients whose identity number is still encrypted under an earlier key."""
    query = (
        sa.select(patient.c.id, patient.c.identity_ciphertext, patient.c.identity_key_id)
        .where(patient.c.identity_key_id != key_id)
        .order_by(patient.c.id)
        .limit(limit)
    )
    return (await conn.execute(query)).all()


async def set_identity_ciphertext(
    conn: AsyncConnection, patient_id: str, ciphertext: str, key_id: str, was_key_id: str
) -> None:
    """Conditional on the key it was read under: a concurrent run changes nothing twice."""
    await conn.execute(
        sa.update(patient)
        .where(patient.c.id == patient_id, patient.c.identity_key_id == was_key_id)
        .values(identity_ciphertext=ciphertext, identity_key_id=key_id)
    )


async def centre_of(conn: AsyncConnection, patient_id: str) -> str | None:
    """The patient's centre, for the operator's ``dho import`` (which then acts as a system
    client of that centre, so every later query is scoped as a request's would be)."""
    query = sa.select(patient.c.centre_id).where(patient.c.id == patient_id)
    return (await conn.execute(query)).scalar_one_or_none()


async def for_dev_login(conn: AsyncConnection, limit: int = 40) -> Sequence[Row[Any]]:
    """The development issuer's list of patients to log in as (never mounted in
    production): id, given name, centre, in enrolment order. Names only, no identity
    numbers: the demo's are synthetic, but the page is a habit-former. The latest
    enrolled first: the one a developer just enrolled is at the top."""
    query = (
        sa.select(patient.c.id, patient.c.given_name, patient.c.family_name, patient.c.centre_id)
        .where(patient.c.status != "ended")
        .order_by(patient.c.enrolled_at.desc(), patient.c.given_name, patient.c.id)
        .limit(limit)
    )
    return (await conn.execute(query)).all()
