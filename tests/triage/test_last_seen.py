"""The newest reading per patient and measurement, kept at ingest for the missing-reading
scan, must say what grouping every reading would say: late readings do not move it back,
a retraction moves it to the newest reading that stands, or removes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from service.ingest import repository as observations
from tests.factories import auth, create_centre, enrol, observation, set_care_plan
from tests.resource_use.seed import backdate

WEIGHT = "29463-7"


async def _kept(app: Any, patient_id: str) -> dict[str, datetime]:
    async with app.state.dho.engine.connect() as conn:
        rows = await observations.latest_per_measurement(conn)
    return {r.measurement: r.last_at for r in rows if r.patient_id == patient_id}


async def _grouped(app: Any, patient_id: str) -> dict[str, datetime]:
    """What the scan read before the table: every reading, grouped."""
    table = observations.observation
    query = (
        sa.select(table.c.measurement, sa.func.max(table.c.effective_at).label("last_at"))
        .where(
            table.c.patient_id == patient_id,
            table.c.kind == "measurement",
            observations.NOT_RETRACTED,
        )
        .group_by(table.c.measurement)
    )
    async with app.state.dho.engine.connect() as conn:
        return {r.measurement: r.last_at for r in await conn.execute(query)}


async def test_last_seen_follows_late_readings_and_retractions(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "heart_failure")
    now = datetime.now(UTC).replace(microsecond=0)
    await backdate(app, patient.id, now - timedelta(days=3))

    async def post(hours_ago: float, kg: float) -> dict[str, Any]:
        resource = observation(
            patient.id, WEIGHT, kg, "kg", effective=now - timedelta(hours=hours_ago)
        )
        response = await client.post("/fhir/Observation", json=resource, headers=patient.headers)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def retract(posted: dict[str, Any]) -> None:
        response = await client.put(
            f"/fhir/Observation/{posted['id']}",
            json={**posted, "status": "entered-in-error"},
            headers=auth(patient.token),
        )
        assert response.status_code == 200, response.text

    oldest = await post(30, 80.0)
    newest = await post(2, 80.4)
    assert await _kept(app, patient.id) == {"body_weight": now - timedelta(hours=2)}

    # A late reading (a gateway's backlog) is older than the one kept: nothing moves.
    await post(10, 80.1)
    assert await _kept(app, patient.id) == {"body_weight": now - timedelta(hours=2)}

    # The newest retracted: back to the newest that stands, the late one.
    await retract(newest)
    assert await _kept(app, patient.id) == {"body_weight": now - timedelta(hours=10)}

    # An older one retracted: the newest that stands is unchanged.
    await retract(oldest)
    kept = await _kept(app, patient.id)
    assert kept == {"body_weight": now - timedelta(hours=10)}
    assert kept == await _grouped(app, patient.id)


async def test_last_seen_row_goes_when_no_reading_stands(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "heart_failure")
    now = datetime.now(UTC).replace(microsecond=0)
    resource = observation(patient.id, WEIGHT, 80.0, "kg", effective=now - timedelta(hours=1))
    response = await client.post("/fhir/Observation", json=resource, headers=patient.headers)
    assert response.status_code == 201, response.text
    posted = response.json()
    response = await client.put(
        f"/fhir/Observation/{posted['id']}",
        json={**posted, "status": "entered-in-error"},
        headers=auth(patient.token),
    )
    assert response.status_code == 200, response.text
    assert await _kept(app, patient.id) == {}
    assert await _grouped(app, patient.id) == {}
