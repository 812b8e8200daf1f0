"""A patient moved from another service: enrolled from a past day, with a care plan, and
60 days of their earlier readings as NDJSON (some out of band, a gap in the middle)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import orjson

from service.auth.dev_issuer import mint_token
from service.auth.principal import Role
from service.patients.fhir_mapping import FOLLOW_UP_START_EXTENSION
from service.settings import Settings
from tests.factories import (
    Centre,
    EnrolledPatient,
    auth,
    blood_pressure,
    new_identity_number,
    observation,
    patient_resource,
)

DAYS = 60
# Days (back from today) with no readings: a gap in the past, which raises nothing.
GAP = range(20, 26)
# Out of band in the old service: red systolic, a 3 kg weight jump.
RED_SYSTOLIC_DAYS = (40, 41, 42)
JUMP_FROM_DAY = 30


async def enrol_from(
    client: httpx.AsyncClient, settings: Settings, centre: Centre, start: date
) -> EnrolledPatient:
    number = new_identity_number()
    resource = patient_resource(number, centre.id)
    resource["extension"] = [{"url": FOLLOW_UP_START_EXTENSION, "valueDate": start.isoformat()}]
    response = await client.post("/fhir/Patient", json=resource, headers=auth(centre.nurse_token))
    assert response.status_code == 201, response.text
    patient_id = response.json()["id"]
    token = mint_token(settings, role=Role.patient, subject=patient_id)
    return EnrolledPatient(patient_id, number, centre, token)


def weight_at(days_ago: int) -> float:
    return 80.0 + (3.0 if days_ago < JUMP_FROM_DAY else 0.0)


def earlier_readings(last: datetime) -> list[dict[str, Any]]:
    """Weight, blood pressure and pulse once a day, the newest at ``last``; the subject
    is the previous service's (the import replaces it)."""
    old_subject = "Patient/previous-service-4711"
    resources: list[dict[str, Any]] = []
    for days_ago in range(DAYS):
        if days_ago in GAP:
            continue
        when = last - timedelta(days=days_ago)
        systolic = 195 if days_ago in RED_SYSTOLIC_DAYS else 128
        resources += [
            observation(
                old_subject,
                "29463-7",
                weight_at(days_ago),
                "kg",
                effective=when,
                identifier=f"w-{days_ago}",
            ),
            blood_pressure(old_subject, systolic, 80, effective=when),
            observation(old_subject, "8867-4", 118 if days_ago % 7 == 0 else 70, effective=when),
        ]
    return resources


def ndjson(resources: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in resources)


def expected_count() -> int:
    return 3 * (DAYS - len(GAP))


def recently() -> datetime:
    return datetime.now(UTC) - timedelta(hours=2)
