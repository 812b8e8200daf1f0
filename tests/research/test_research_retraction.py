"""A retracted reading, the findings withdrawn with it and the item they closed are an
error's history, not the patient's: no research export carries them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from service.settings import Settings
from tests.factories import (
    EnrolledPatient,
    auth,
    blood_pressure,
    create_centre,
    enrol,
    observation,
    queue_of,
    set_care_plan,
)
from tests.research.helpers import Export, export, register_study, researcher

NOW = datetime.now(UTC).replace(microsecond=0)


async def _post(client: httpx.AsyncClient, patient: EnrolledPatient, resource: Any) -> str:
    response = await client.post("/fhir/Observation", json=resource, headers=patient.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _retract(client: httpx.AsyncClient, token: str, observation_id: str) -> None:
    url = f"/fhir/Observation/{observation_id}"
    stored = (await client.get(url, headers=auth(token))).json()
    response = await client.put(
        url, json={**stored, "status": "entered-in-error"}, headers=auth(token)
    )
    assert response.status_code == 200, response.text


def _rows(result: Export, table: str) -> list[dict[str, str]]:
    return result.csv(table) if f"{table}.csv" in result.files else []


async def test_retracted_readings_and_withdrawn_findings_and_items_are_not_exported(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "heart_failure")
    kept = observation(patient.id, "8867-4", 71, effective=NOW - timedelta(hours=50))
    await _post(client, patient, kept)
    wrong = observation(patient.id, "8867-4", 74, effective=NOW - timedelta(hours=26))
    wrong_id = await _post(client, patient, wrong)
    red = blood_pressure(patient.id, 188, 96, effective=NOW - timedelta(minutes=97))
    red_id = await _post(client, patient, red)
    assert [i["severity"] for i in await queue_of(client, centre)] == ["red"]

    await _retract(client, patient.token, wrong_id)
    await _retract(client, centre.nurse_token, red_id)

    subject, token = researcher(settings)
    study = await register_study(client, centre, [subject], k=1)
    result = await export(client, app, settings, study["id"], token)
    readings = result.csv("readings")
    assert [r["measurement"] for r in readings] == ["heart_rate"]
    assert len(result.ndjson("Observation")) == 1
    assert _rows(result, "findings") == []
    assert _rows(result, "items") == []
    assert result.ndjson("DetectedIssue") == []
    assert result.ndjson("Task") == []
