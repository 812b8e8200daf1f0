"""POST /fhir/Observation: what a device, a patient and a nurse see."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from service.settings import Settings
from tests.factories import (
    auth,
    blood_pressure,
    create_centre,
    enrol,
    observation,
    readings_of,
)


async def test_a_reading_is_stored_and_read_back(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    response = await client.post(
        "/fhir/Observation", json=observation(patient.id, value=71), headers=patient.headers
    )
    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"].endswith(f"/fhir/Observation/{body['id']}/_history/1")
    assert response.headers["etag"] == 'W/"1"'
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert body["valueQuantity"]["value"] == 71
    read = await client.get(f"/fhir/Observation/{body['id']}", headers=patient.headers)
    assert read.status_code == 200
    assert read.json()["subject"] == {"reference": f"Patient/{patient.id}"}


async def test_prefer_return_minimal_has_no_body(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    response = await client.post(
        "/fhir/Observation",
        json=observation(patient.id),
        headers={**patient.headers, "Prefer": "return=minimal"},
    )
    assert response.status_code == 201
    assert response.content == b""
    assert "/fhir/Observation/" in response.headers["location"]


async def test_a_repeated_reading_is_stored_once(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    reading = observation(patient.id, identifier="cuff-1-seq-42")
    first = await client.post("/fhir/Observation", json=reading, headers=patient.headers)
    second = await client.post("/fhir/Observation", json=reading, headers=patient.headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert len(await readings_of(client, patient)) == 1


async def test_without_identifier_the_same_reading_is_recognised(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    when = datetime.now(UTC) - timedelta(hours=1)
    first = await client.post(
        "/fhir/Observation", json=observation(patient.id, effective=when), headers=patient.headers
    )
    again = await client.post(
        "/fhir/Observation", json=observation(patient.id, effective=when), headers=patient.headers
    )
    other_value = await client.post(
        "/fhir/Observation",
        json=observation(patient.id, value=99, effective=when),
        headers=patient.headers,
    )
    assert (first.status_code, again.status_code, other_value.status_code) == (201, 200, 201)
    assert len(await readings_of(client, patient)) == 2


async def test_concurrent_duplicates_store_one_row(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    reading = observation(patient.id, identifier="retry-storm")
    responses = await asyncio.gather(
        *(
            client.post("/fhir/Observation", json=reading, headers=patient.headers)
            for _ in range(10)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 9 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert len(await readings_of(client, patient)) == 1


@pytest.mark.parametrize(
    ("code", "value", "unit", "canonical", "canonical_unit"),
    [
        ("29463-7", 176.37, "[lb_av]", 80.0, "kg"),
        ("8310-5", 98.6, "[degF]", 37.0, "Cel"),
        ("15074-8", 108.1, "mg/dL", 6.0, "mmol/L"),
        ("8867-4", 64, "{beats}/min", 64, "/min"),
        ("59408-5", 94, "%", 94, "%"),
    ],
)
async def test_units_are_normalised_and_the_original_kept(
    client: httpx.AsyncClient,
    app: Any,
    settings: Settings,
    code: str,
    value: float,
    unit: str,
    canonical: float,
    canonical_unit: str,
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    response = await client.post(
        "/fhir/Observation",
        json=observation(patient.id, code, value, unit),
        headers=patient.headers,
    )
    assert response.status_code == 201, response.text
    async with app.state.dho.engine.connect() as conn:
        import sqlalchemy as sa

        row = (
            await conn.execute(
                sa.text(
                    "SELECT value, unit, original_value, original_unit"
                    " FROM observation WHERE id = :id"
                ),
                {"id": response.json()["id"]},
            )
        ).one()
    assert row.value == pytest.approx(canonical, abs=0.01)
    assert (row.unit, row.original_value, row.original_unit) == (canonical_unit, value, unit)
    # The stored resource is what the device sent, unit and all.
    assert response.json()["valueQuantity"]["code"] == unit


async def test_blood_pressure_in_kpa_is_converted(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    response = await client.post(
        "/fhir/Observation",
        json=blood_pressure(patient.id, 16.0, 10.7, "kPa"),
        headers=patient.headers,
    )
    assert response.status_code == 201
    async with app.state.dho.engine.connect() as conn:
        import sqlalchemy as sa

        components = (
            await conn.execute(
                sa.text("SELECT components FROM observation WHERE id = :id"),
                {"id": response.json()["id"]},
            )
        ).scalar_one()
    if isinstance(components, str):
        import json

        components = json.loads(components)
    by_code = {c["code"]: c for c in components}
    assert by_code["8480-6"]["value"] == pytest.approx(120.0, abs=0.1)
    assert by_code["8462-4"]["value"] == pytest.approx(80.3, abs=0.1)
    assert by_code["8480-6"]["unit"] == "mm[Hg]"


async def test_unknown_offset_is_read_as_local_time_and_flagged(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    response = await client.post(
        "/fhir/Observation",
        json=observation(patient.id, effective="2026-07-01T08:00:00-00:00"),
        headers=patient.headers,
    )
    assert response.status_code == 201
    body = response.json()
    assert body["effectiveDateTime"] == "2026-07-01T08:00:00-00:00"  # kept as sent
    assert any(tag["code"] == "time-doubtful" for tag in body["meta"]["tag"])
    search = await client.get(
        "/fhir/Observation",
        params={
            "patient": patient.id,
            "date": ["ge2026-07-01T06:00:00Z", "lt2026-07-01T06:00:01Z"],
        },
        headers=patient.headers,
    )
    # 08:00 in Oslo in summer is 06:00 UTC, not 08:00 UTC.
    assert [e["resource"]["id"] for e in search.json()["entry"]] == [body["id"]]


async def test_a_patient_cannot_write_for_another_patient(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    alice, bob = await enrol(client, settings, centre), await enrol(client, settings, centre)
    response = await client.post(
        "/fhir/Observation", json=observation(bob.id), headers=alice.headers
    )
    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"] == ["Observation.subject"]
    assert len(await readings_of(client, bob)) == 0


async def test_ended_patient_is_refused(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    async with app.state.dho.engine.begin() as conn:
        import sqlalchemy as sa

        await conn.execute(
            sa.text("UPDATE patient SET status = 'ended' WHERE id = :id"), {"id": patient.id}
        )
    response = await client.post(
        "/fhir/Observation", json=observation(patient.id), headers=patient.headers
    )
    assert response.status_code == 422
    assert "ended" in response.json()["issue"][0]["diagnostics"]


async def test_nurse_token_cannot_create_readings(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    response = await client.post(
        "/fhir/Observation", json=observation(patient.id), headers=auth(centre.nurse_token)
    )
    assert response.status_code == 403
    assert response.json()["resourceType"] == "OperationOutcome"
