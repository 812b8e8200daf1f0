"""A retracted reading was not received: the missing-reading scan does not count it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from service.queue import jobs
from tests.factories import (
    auth,
    blood_pressure,
    create_centre,
    enrol,
    observation,
    queue_of,
    set_care_plan,
)
from tests.resource_use.seed import backdate


async def test_a_retracted_weight_leaves_the_weight_missing(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    """Heart failure expects a weight every 24 h: missing 36 h after the last one."""
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "heart_failure")
    now = datetime.now(UTC)
    await backdate(app, patient.id, now - timedelta(days=3))
    posted = []
    for resource in (
        observation(patient.id, "29463-7", 80.0, "kg", effective=now - timedelta(hours=20)),
        observation(patient.id, "29463-7", 80.2, "kg", effective=now - timedelta(minutes=10)),
        blood_pressure(patient.id, 130, 80, effective=now - timedelta(minutes=10)),
    ):
        response = await client.post("/fhir/Observation", json=resource, headers=patient.headers)
        assert response.status_code == 201, response.text
        posted.append(response.json())
    url = f"/fhir/Observation/{posted[1]['id']}"
    retracted = await client.put(
        url, json={**posted[1], "status": "entered-in-error"}, headers=auth(patient.token)
    )
    assert retracted.status_code == 200, retracted.text

    async with app.state.dho.engine.begin() as conn:
        await jobs.scan_missing_readings(conn, now + timedelta(hours=20))

    [item] = await queue_of(client, centre)
    assert [(f["rule"], f["measurement"]) for f in item["findings"]] == [
        ("missing.reading", "body_weight")
    ]
