"""GET /fhir/Observation: a nurse and a patient find readings, page by page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from service.settings import Settings
from tests.factories import auth, create_centre, enrol, observation


async def _post_series(
    client: httpx.AsyncClient, patient: Any, count: int, start: datetime
) -> None:
    for i in range(count):
        reading = observation(patient.id, value=60 + i, effective=start + timedelta(hours=i))
        assert (
            await client.post("/fhir/Observation", json=reading, headers=patient.headers)
        ).status_code == 201


async def test_paging_is_stable_while_new_readings_arrive(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    start = datetime.now(UTC) - timedelta(days=2)
    await _post_series(client, patient, 7, start)
    seen: list[float] = []
    url: str | None = f"/fhir/Observation?patient={patient.id}&_count=3"
    while url:
        page = (await client.get(url, headers=patient.headers)).json()
        seen.extend(e["resource"]["valueQuantity"]["value"] for e in page["entry"])
        # A newer reading arriving between pages must not shift or repeat rows.
        if len(seen) == 3:
            late = observation(
                patient.id, value=99, effective=datetime.now(UTC) - timedelta(minutes=1)
            )
            await client.post("/fhir/Observation", json=late, headers=patient.headers)
        url = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
    assert seen == [66, 65, 64, 63, 62, 61, 60]


async def test_code_and_date_filters(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    day = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    for reading in (
        observation(patient.id, "8867-4", 70, effective=day),
        observation(patient.id, "29463-7", 80, "kg", effective=day),
        observation(patient.id, "8867-4", 75, effective=day + timedelta(days=1)),
    ):
        assert (
            await client.post("/fhir/Observation", json=reading, headers=patient.headers)
        ).status_code == 201
    by_code = await client.get(
        "/fhir/Observation",
        params={"patient": patient.id, "code": "http://loinc.org|29463-7"},
        headers=patient.headers,
    )
    assert [e["resource"]["valueQuantity"]["value"] for e in by_code.json()["entry"]] == [80]
    by_day = await client.get(
        "/fhir/Observation",
        params={"patient": patient.id, "code": "8867-4", "date": "2026-11-02", "_sort": "date"},
        headers=patient.headers,
    )
    assert [e["resource"]["valueQuantity"]["value"] for e in by_day.json()["entry"]] == [70]
    range_ = await client.get(
        "/fhir/Observation",
        params={"patient": patient.id, "date": ["ge2026-11-02", "lt2026-11-04"], "_sort": "date"},
        headers=patient.headers,
    )
    values = [e["resource"]["valueQuantity"]["value"] for e in range_.json()["entry"]]
    # Weight and pulse share a time: their order is by id; the next day comes last.
    assert sorted(values[:2]) == [70, 80]
    assert values[2] == 75


async def test_nurse_sees_own_centre_only(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    mine, theirs = await create_centre(app, settings), await create_centre(app, settings)
    my_patient, their_patient = (
        await enrol(client, settings, mine),
        await enrol(client, settings, theirs),
    )
    for patient in (my_patient, their_patient):
        await client.post(
            "/fhir/Observation", json=observation(patient.id), headers=patient.headers
        )
    everything = await client.get("/fhir/Observation", headers=auth(mine.nurse_token))
    assert {e["resource"]["subject"]["reference"] for e in everything.json()["entry"]} == {
        f"Patient/{my_patient.id}"
    }
    theirs_by_id = await client.get(
        "/fhir/Observation", params={"patient": their_patient.id}, headers=auth(mine.nurse_token)
    )
    assert theirs_by_id.json()["entry"] == []
    their_reading = (
        await client.get(
            "/fhir/Observation", params={"patient": their_patient.id}, headers=their_patient.headers
        )
    ).json()["entry"][0]["resource"]["id"]
    read = await client.get(f"/fhir/Observation/{their_reading}", headers=auth(mine.nurse_token))
    missing = await client.get("/fhir/Observation/does-not-exist", headers=auth(mine.nurse_token))
    assert read.status_code == missing.status_code == 404
    assert read.json() == missing.json()


async def test_patient_search_is_confined_to_self(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    alice, bob = await enrol(client, settings, centre), await enrol(client, settings, centre)
    await client.post("/fhir/Observation", json=observation(bob.id), headers=bob.headers)
    response = await client.get(
        "/fhir/Observation", params={"patient": bob.id}, headers=alice.headers
    )
    assert response.status_code == 200
    assert response.json()["entry"] == []


async def test_unknown_search_parameter_is_refused(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    response = await client.get(
        "/fhir/Observation", params={"value-quantity": "gt100"}, headers=patient.headers
    )
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["value-quantity"]
    injection = await client.get(
        "/fhir/Observation",
        params={"patient": "x' OR '1'='1", "code": "1;DROP TABLE observation"},
        headers=patient.headers,
    )
    assert injection.status_code == 200
    assert injection.json()["entry"] == []
