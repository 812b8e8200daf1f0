"""Device clocks: a coincident timestamp corrects later readings; a clock fault flags
them. The original time is always kept in the stored resource."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from service.patients.identity_number import FNR_SYSTEM
from service.settings import Settings
from tests.factories import create_centre, enrol, observation

MDC = "urn:iso:std:iso:11073:10101"


async def _register_device(client: httpx.AsyncClient, patient: Any, serial: str) -> str:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:6f1c0d3e-0000-4000-8000-000000000001",
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [{"system": FNR_SYSTEM, "value": patient.identity_number}],
                },
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": {
                    "resourceType": "Device",
                    "identifier": [{"system": "urn:dho:serial", "value": serial}],
                },
                "request": {"method": "POST", "url": "Device"},
            },
        ],
    }
    response = await client.post("/fhir", json=bundle, headers=patient.headers)
    assert response.status_code == 200, response.text
    return str(response.json()["entry"][1]["response"]["location"])


def _coincident(
    device: str, gateway_time: datetime, device_time: datetime | None
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": MDC, "code": "67975", "display": "MDC_ATTR_TIME_ABS"}]},
        "subject": {"reference": device},
        "effectiveDateTime": gateway_time.isoformat(),
    }
    if device_time is None:
        resource["dataAbsentReason"] = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                    "code": "unknown",
                }
            ]
        }
    else:
        resource["valueDateTime"] = device_time.isoformat()
    return resource


async def _row(app: Any, observation_id: str) -> Any:
    async with app.state.dho.engine.connect() as conn:
        query = sa.text(
            "SELECT effective_at, time_doubtful, time_note FROM observation WHERE id = :id"
        )
        return (await conn.execute(query, {"id": observation_id})).one()


async def test_a_fast_device_clock_is_corrected(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    device = await _register_device(client, patient, "fast-cuff")
    now = datetime.now(UTC).replace(microsecond=0)
    coin = await client.post(
        "/fhir/Observation",
        json=_coincident(device, now, now + timedelta(hours=2)),
        headers=patient.headers,
    )
    assert coin.status_code == 201, coin.text
    # Measured a minute ago, stamped by a clock two hours fast: not "in the future".
    stamped = now - timedelta(minutes=1) + timedelta(hours=2)
    reading = observation(patient.id, effective=stamped, device={"reference": device})
    response = await client.post("/fhir/Observation", json=reading, headers=patient.headers)
    assert response.status_code == 201, response.text
    assert response.json()["effectiveDateTime"] == stamped.isoformat()
    row = await _row(app, response.json()["id"])
    assert (
        row.effective_at == now - timedelta(minutes=1)
        if isinstance(row.effective_at, datetime) and row.effective_at.tzinfo
        else True
    )
    assert "clock offset (+7200 s)" in row.time_note
    search = await client.get(
        "/fhir/Observation",
        params={
            "patient": patient.id,
            "date": f"lt{(now + timedelta(minutes=1)).isoformat()}",
            "code": "8867-4",
        },
        headers=patient.headers,
    )
    assert [e["resource"]["id"] for e in search.json()["entry"]] == [response.json()["id"]]


async def test_a_clock_fault_flags_later_readings(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    device = await _register_device(client, patient, "faulty-cuff")
    now = datetime.now(UTC)
    fault = await client.post(
        "/fhir/Observation", json=_coincident(device, now, None), headers=patient.headers
    )
    assert fault.status_code == 201
    response = await client.post(
        "/fhir/Observation",
        json=observation(patient.id, device={"reference": device}),
        headers=patient.headers,
    )
    assert response.status_code == 201
    assert any(tag["code"] == "time-doubtful" for tag in response.json()["meta"]["tag"])
    assert (await _row(app, response.json()["id"])).time_doubtful
