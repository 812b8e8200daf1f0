"""Enrolment of a patient whose follow-up started in another service: the start day is
in the past (at most two years), never after today, and read in the centre's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from service.patients.fhir_mapping import FOLLOW_UP_START_EXTENSION
from service.patients.service import MAX_BACKDATED_DAYS
from service.settings import Settings
from tests.factories import auth, create_centre, new_identity_number, patient_resource

OSLO = ZoneInfo("Europe/Oslo")


def _with_start(centre_id: str, value: Any) -> dict[str, Any]:
    resource = patient_resource(new_identity_number(), centre_id)
    resource["extension"] = [
        {"url": "https://example.org/other", "valueString": "kept apart"},
        {"url": FOLLOW_UP_START_EXTENSION, "valueDate": value},
    ]
    return resource


def _started(body: dict[str, Any]) -> datetime:
    [extension] = [e for e in body["extension"] if e["url"] == FOLLOW_UP_START_EXTENSION]
    return datetime.fromisoformat(extension["valueDateTime"])


async def test_follow_up_starts_on_the_day_named_in_the_centres_zone(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    day = datetime.now(OSLO).date() - timedelta(days=45)
    response = await client.post(
        "/fhir/Patient",
        json=_with_start(centre.id, day.isoformat()),
        headers=auth(centre.nurse_token),
    )
    assert response.status_code == 201, response.text
    assert _started(response.json()) == datetime.combine(day, time(0), tzinfo=OSLO)
    read = await client.get(
        f"/fhir/Patient/{response.json()['id']}", headers=auth(centre.nurse_token)
    )
    assert _started(read.json()) == datetime.combine(day, time(0), tzinfo=OSLO)


async def test_without_a_start_follow_up_starts_now(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    before = datetime.now(UTC)
    resource = patient_resource(new_identity_number(), centre.id)
    response = await client.post("/fhir/Patient", json=resource, headers=auth(centre.nurse_token))
    assert response.status_code == 201
    assert before <= _started(response.json()) <= datetime.now(UTC)


@pytest.mark.parametrize(
    "value",
    [
        lambda today: (today + timedelta(days=2)).isoformat(),
        lambda today: (today - timedelta(days=MAX_BACKDATED_DAYS + 2)).isoformat(),
        lambda today: "yesterday",
    ],
    ids=["future", "too-old", "not-a-date"],
)
async def test_a_start_outside_the_limits_is_refused_naming_the_element(
    client: httpx.AsyncClient, app: Any, settings: Settings, value: Any
) -> None:
    centre = await create_centre(app, settings)
    today: date = datetime.now(OSLO).date()
    response = await client.post(
        "/fhir/Patient", json=_with_start(centre.id, value(today)), headers=auth(centre.nurse_token)
    )
    assert response.status_code == 422, response.text
    expressions = [e for i in response.json()["issue"] for e in i.get("expression", [])]
    assert any(e.startswith("Patient.extension[1]") for e in expressions), expressions
    search = await client.get("/fhir/Patient", headers=auth(centre.nurse_token))
    assert search.json().get("entry", []) == []
