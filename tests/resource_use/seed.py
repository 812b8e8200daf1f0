"""Helpers for the resource-use tests: patients enrolled through the API, then moved
back in time in the database (the API stamps "now", a seeded month lies in the past),
and the tokens of a centre's leader and of its admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import httpx
import sqlalchemy as sa

from service.auth.dev_issuer import mint_token
from service.auth.principal import DEFAULT_SCOPES, Role
from service.careplans.models import CarePlanVersion
from service.models_base import new_id
from service.patients.models import Patient
from service.queue.models import TriageItem
from service.resource_use.models import PatientStatusChange
from service.settings import Settings
from tests.factories import (
    Centre,
    EnrolledPatient,
    auth,
    create_centre,
    new_identity_number,
    patient_resource,
)

OSLO = ZoneInfo("Europe/Oslo")
EVALUATION_SCOPE = "user/MeasureReport.rs"


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A wall-clock time in Oslo, as the UTC instant the service stores."""
    return datetime(year, month, day, hour, minute, tzinfo=OSLO).astimezone(UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@dataclass(frozen=True)
class SeedCentre:
    centre: Centre
    leader_token: str

    @property
    def id(self) -> str:
        return self.centre.id


async def seed_centre(app: Any, settings: Settings, municipalities: list[str]) -> SeedCentre:
    centre = await create_centre(app, settings, municipalities)
    return SeedCentre(centre, leader_token(settings, centre.id))


def leader_token(settings: Settings, centre_id: str) -> str:
    """A nurse leader: a nurse whose identity provider also grants the evaluation."""
    return mint_token(
        settings,
        role=Role.nurse,
        subject=f"leader-{uuid4().hex[:8]}",
        centres=[centre_id],
        scopes=[*DEFAULT_SCOPES[Role.nurse], EVALUATION_SCOPE],
    )


async def enrol_in(
    client: httpx.AsyncClient, settings: Settings, centre: Centre, municipality: str
) -> EnrolledPatient:
    for _ in range(5):
        number = new_identity_number()
        response = await client.post(
            "/fhir/Patient",
            json=patient_resource(number, centre.id, municipality),
            headers=auth(centre.nurse_token),
        )
        if response.status_code != 409:
            break
    assert response.status_code == 201, response.text
    patient_id = response.json()["id"]
    token = mint_token(settings, role=Role.patient, subject=patient_id)
    return EnrolledPatient(patient_id, number, centre, token)


async def backdate(app: Any, patient_id: str, enrolled_at: datetime) -> None:
    """Enrolment and every care-plan version moved to ``enrolled_at``."""
    patient = Patient.__table__  # type: ignore[attr-defined]
    plan = CarePlanVersion.__table__  # type: ignore[attr-defined]
    async with app.state.dho.engine.begin() as conn:
        await conn.execute(
            sa.update(patient).where(patient.c.id == patient_id).values(enrolled_at=enrolled_at)
        )
        await conn.execute(
            sa.update(plan).where(plan.c.patient_id == patient_id).values(changed_at=enrolled_at)
        )


async def status_change(
    app: Any, patient: EnrolledPatient, status: str, changed_at: datetime
) -> None:
    """A past pause, resume or end, as the status trigger would have recorded it."""
    table = PatientStatusChange.__table__  # type: ignore[attr-defined]
    async with app.state.dho.engine.begin() as conn:
        await conn.execute(
            sa.insert(table).values(
                id=new_id(),
                centre_id=patient.centre.id,
                patient_id=patient.id,
                status=status,
                changed_at=changed_at,
            )
        )


async def item(
    app: Any,
    patient: EnrolledPatient,
    severity: str,
    opened_at: datetime,
    *,
    waiting_since: datetime | None = None,
    claimed_at: datetime | None = None,
    resolved_at: datetime | None = None,
    technical: bool = False,
) -> None:
    """A queue item as it stands after its life: resolved items closed, others open."""
    table = TriageItem.__table__  # type: ignore[attr-defined]
    resolved = resolved_at is not None
    async with app.state.dho.engine.begin() as conn:
        await conn.execute(
            sa.insert(table).values(
                id=new_id(),
                centre_id=patient.centre.id,
                patient_id=patient.id,
                severity=severity,
                critical=False,
                technical=technical,
                state="resolved" if resolved else ("claimed" if claimed_at else "open"),
                opened_at=opened_at,
                waiting_since=waiting_since or opened_at,
                updated_at=resolved_at or claimed_at or opened_at,
                back_in_range=False,
                claimed_by="nurse-x" if claimed_at else None,
                claimed_at=claimed_at,
                resolved_by="nurse-x" if resolved else None,
                resolved_at=resolved_at,
                outcome="handled_by_centre" if resolved else None,
                version=1,
            )
        )
