"""Enrolment and lookup of patients."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal, Role
from service.centres import repository as centres
from service.fhirkit.outcome import FhirError, not_found
from service.fhirkit.validation import validate
from service.journal import notes as journal_notes
from service.models_base import new_id, utcnow
from service.patients import repository
from service.patients.fhir_mapping import enrolment_from_fhir, patient_to_fhir
from service.patients.identity_vault import IdentityVault

# How far back an enrolment may start: two years of another service's history.
MAX_BACKDATED_DAYS = 730


async def enrol(
    conn: AsyncConnection,
    principal: Principal,
    resource: dict[str, Any],
    vault: IdentityVault,
    *,
    enrolled_at: datetime | None = None,
) -> dict[str, Any]:
    """Enrol the patient. Follow-up starts now, or on the day the resource's
    follow-up-start extension names (a patient moved from another service: their
    missing-reading clock then counts from that day or their imported readings, not
    from today); ``enrolled_at`` lets the demo loader set the moment itself."""
    validate(resource, "Patient")
    enrolment = enrolment_from_fhir(resource)
    centre_id = _centre_for(principal, enrolment.centre_reference)
    centre = await centres.get(conn, centre_id)
    if centre is None:
        raise FhirError.one(
            422, "not-found", "no such follow-up centre", "Patient.managingOrganization"
        )
    now = utcnow()
    if enrolment.follow_up_start is not None:
        enrolled_at = follow_up_start(*enrolment.follow_up_start, ZoneInfo(centre.time_zone), now)
    identity_hash = vault.lookup_hash(enrolment.identity_system, enrolment.identity_value)
    if await repository.identity_exists(conn, identity_hash):
        raise FhirError.one(
            409, "duplicate", "this person is already enrolled", "Patient.identifier"
        )
    patient_id = new_id()
    values: dict[str, Any] = {
        "id": patient_id,
        "centre_id": centre_id,
        "identity_hash": identity_hash,
        "identity_system": enrolment.identity_system,
        "identity_ciphertext": vault.encrypt(enrolment.identity_value),
        "identity_key_id": vault.key_id,
        "given_name": enrolment.given_name,
        "family_name": enrolment.family_name,
        "birth_date": enrolment.birth_date,
        "sex": enrolment.sex,
        "municipality": enrolment.municipality,
        "status": "active",
        "enrolled_at": enrolled_at or now,
        "version_id": 1,
        "created_at": now,
    }
    for system, value in enrolment.other_identifiers:
        if await repository.other_identifier_exists(conn, system, vault.lookup_hash(system, value)):
            raise FhirError.one(
                409,
                "duplicate",
                "another patient is known by this identifier",
                "Patient.identifier",
            )
    await repository.insert(conn, values)
    await repository.add_identifiers(
        conn,
        [
            {
                "id": new_id(),
                "centre_id": centre_id,
                "patient_id": patient_id,
                "system": system,
                "value_hash": vault.lookup_hash(system, value),
                "created_at": now,
            }
            for system, value in enrolment.other_identifiers
        ],
    )
    # The start of follow-up, for the patient's record (an outbox row, this transaction).
    note = journal_notes.follow_up_started(values["enrolled_at"])
    await journal_notes.record(conn, principal, centre_id, patient_id, note, now)
    row = await repository.get_visible(conn, principal, patient_id)
    assert row is not None
    return patient_to_fhir(row, enrolment.identity_value)


def follow_up_start(day: date, expression: str, zone: ZoneInfo, now: datetime) -> datetime:
    """The moment follow-up started, for a patient moved from another service: the start
    of ``day`` in the centre's zone (today: now, as for any enrolment). Not after today,
    and not more than ``MAX_BACKDATED_DAYS`` back: a later date would start the clocks in
    the future, an older one is a typo rather than a transfer."""
    today = now.astimezone(zone).date()
    if day > today:
        raise FhirError.one(
            422, "value", "follow-up cannot start after today (in the centre's zone)", expression
        )
    if day < today - timedelta(days=MAX_BACKDATED_DAYS):
        raise FhirError.one(
            422,
            "value",
            f"follow-up can start at most {MAX_BACKDATED_DAYS} days before today",
            expression,
        )
    if day == today:
        return now
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _centre_for(principal: Principal, reference: str | None) -> str:
    """The centre named by managingOrganization, else the caller's only centre."""
    if principal.role not in (Role.nurse, Role.admin):
        raise FhirError.one(403, "forbidden", "only staff enrol patients")
    if reference is None:
        if len(principal.centres) != 1:
            raise FhirError.one(
                422,
                "required",
                "name the follow-up centre in managingOrganization",
                "Patient.managingOrganization",
            )
        return principal.centres[0]
    centre_id = reference.removeprefix("Organization/")
    if centre_id not in principal.centres:
        raise FhirError.one(
            422, "not-found", "no such follow-up centre", "Patient.managingOrganization"
        )
    return centre_id


async def read(
    conn: AsyncConnection, principal: Principal, patient_id: str, vault: IdentityVault
) -> dict[str, Any]:
    row = await repository.get_visible(conn, principal, patient_id)
    if row is None:
        raise not_found("Patient")
    return patient_to_fhir(row, _identity(row, vault))


async def search(
    conn: AsyncConnection,
    principal: Principal,
    vault: IdentityVault,
    *,
    identifier: str | None,
    after_id: str | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    identity_hash = None
    if identifier is not None:
        system, _, value = identifier.rpartition("|")
        identity_hash = vault.lookup_hash(system, value)
    rows = await repository.search_visible(
        conn, principal, identity_hash=identity_hash, after_id=after_id, limit=limit + 1
    )
    resources = [patient_to_fhir(row, _identity(row, vault)) for row in rows[:limit]]
    next_after = rows[limit - 1].id if len(rows) > limit else None
    return resources, next_after


def _identity(row: Row[Any], vault: IdentityVault) -> str | None:
    try:
        return vault.decrypt(row.identity_ciphertext, row.identity_key_id)
    except KeyError:
        return None


async def reencrypt_batch(conn: AsyncConnection, vault: IdentityVault, limit: int = 500) -> int:
    """Move up to ``limit`` identity numbers from earlier keys to the current one; answers
    how many. Run until it answers 0 (``dho reencrypt``); then the old key may go."""
    rows = await repository.under_other_keys(conn, vault.key_id, limit)
    for row in rows:
        number = vault.decrypt(row.identity_ciphertext, row.identity_key_id)
        await repository.set_identity_ciphertext(
            conn, row.id, vault.encrypt(number), vault.key_id, row.identity_key_id
        )
    return len(rows)
