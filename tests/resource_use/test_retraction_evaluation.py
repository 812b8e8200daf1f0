"""A retracted reading was not received, and an item closed because its findings were
withdrawn was never worked: the evaluation counts neither."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from service.settings import Settings
from tests.factories import EnrolledPatient, auth, blood_pressure, queue_of, set_care_plan
from tests.resource_use.seed import OSLO, backdate, enrol_in, local, seed_centre, utc
from tests.resource_use.test_evaluation import evaluation_of, value

JANUARY = {"from": "2026-01-01", "to": "2026-01-31"}


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


async def test_a_retracted_reading_is_not_received_and_a_withdrawn_item_not_counted(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    seeded = await seed_centre(app, settings, ["1804"])
    patient = await enrol_in(client, settings, seeded.centre, "1804")
    await set_care_plan(client, patient, "hypertension")
    await backdate(app, patient.id, utc(2025, 12, 1))
    january = [
        await _post(client, patient, blood_pressure(patient.id, 130, 80, effective=when))
        for when in (local(2026, 1, day, 8) for day in (1, 2, 3))
    ]
    red = await _post(
        client,
        patient,
        blood_pressure(patient.id, 185, 95, effective=datetime.now(UTC) - timedelta(minutes=5)),
    )
    assert [i["severity"] for i in await queue_of(client, seeded.centre)] == ["red"]
    today = datetime.now(UTC).astimezone(OSLO).date().isoformat()
    period = {"from": today, "to": today}

    before = await evaluation_of(client, seeded.leader_token, seeded.id, JANUARY)
    assert before["overall"]["adherence"]["received"] == 3
    items_before = (await evaluation_of(client, seeded.leader_token, seeded.id, period))["overall"][
        "items"
    ]
    assert value(items_before["by_severity"]["red"]) == 1

    await _retract(client, patient.token, january[1])
    await _retract(client, seeded.centre.nurse_token, red)

    after = await evaluation_of(client, seeded.leader_token, seeded.id, JANUARY)
    assert after["overall"]["adherence"]["received"] == 2
    assert after["overall"]["adherence"]["expected"] == before["overall"]["adherence"]["expected"]
    items_after = (await evaluation_of(client, seeded.leader_token, seeded.id, period))["overall"][
        "items"
    ]
    assert value(items_after["by_severity"]["red"]) == 0
