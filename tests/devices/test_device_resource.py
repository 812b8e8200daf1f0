"""FHIR Device as the PHD IG's gateways send it: create (also conditional), update,
update-as-create and conditional update, read and search, alone and as Bundle
entries. A gateway uploading its Device gets no error, and its readings are kept."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest

from service.auth.dev_issuer import mint_token
from service.auth.principal import Role
from service.settings import Settings
from tests.factories import (
    DEVICE_SYSTEM,
    auth,
    create_centre,
    enrol,
    observation,
    readings_of,
)


def _device(serial: str, model: str = "UA-651") -> dict[str, Any]:
    return {
        "resourceType": "Device",
        "identifier": [{"system": DEVICE_SYSTEM, "value": serial}],
        "modelNumber": model,
    }


async def test_create_read_update_and_search(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    admin = auth(centre.admin_token)
    serial = f"cuff-{uuid4().hex[:8]}"
    created = await client.post("/fhir/Device", json=_device(serial), headers=admin)
    assert created.status_code == 201, created.text
    device_id = created.json()["id"]
    assert created.headers["location"].endswith(f"/fhir/Device/{device_id}/_history/1")
    assert created.json()["owner"] == {"reference": f"Organization/{centre.id}"}

    condition = {**admin, "If-None-Exist": f"identifier={DEVICE_SYSTEM}|{serial}"}
    again = await client.post("/fhir/Device", json=_device(serial), headers=condition)
    assert (again.status_code, again.json()["id"]) == (200, device_id)

    updated = await client.put(
        f"/fhir/Device/{device_id}", json=_device(serial, "UA-767"), headers=admin
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["meta"]["versionId"] == "2"
    assert updated.headers["etag"] == 'W/"2"'
    read = await client.get(f"/fhir/Device/{device_id}", headers=auth(centre.nurse_token))
    assert (read.status_code, read.json()["modelNumber"]) == (200, "UA-767")

    found = await client.get(
        "/fhir/Device", params={"identifier": f"{DEVICE_SYSTEM}|{serial}"}, headers=admin
    )
    assert [e["resource"]["id"] for e in found.json()["entry"]] == [device_id]


async def test_update_as_create_and_conditional_update_by_a_patients_gateway(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    device_id = f"phd-{uuid4().hex[:16].upper()}.{uuid4().hex[:12].upper()}"
    serial = f"oxi-{uuid4().hex[:8]}"
    created = await client.put(
        f"/fhir/Device/{device_id}",
        json={**_device(serial), "id": device_id},
        headers=patient.headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["id"] == device_id
    # A device new to the centre is lent to the patient whose gateway sent it.
    assert created.json()["patient"] == {"reference": f"Patient/{patient.id}"}
    same = await client.put(
        f"/fhir/Device/{device_id}", json=_device(serial, "3230"), headers=patient.headers
    )
    assert (same.status_code, same.json()["modelNumber"]) == (200, "3230")

    url = f"/fhir/Device?identifier={DEVICE_SYSTEM}|{serial}"
    conditional = await client.put(url, json=_device(serial, "3231"), headers=patient.headers)
    assert conditional.status_code == 200, conditional.text
    assert (conditional.json()["id"], conditional.json()["modelNumber"]) == (device_id, "3231")
    other = f"scale-{uuid4().hex[:8]}"
    new = await client.put(
        f"/fhir/Device?identifier={DEVICE_SYSTEM}|{other}",
        json=_device(other),
        headers=patient.headers,
    )
    assert new.status_code == 201, new.text
    mine = await client.get("/fhir/Device", params={"patient": patient.id}, headers=patient.headers)
    assert {e["resource"]["id"] for e in mine.json()["entry"]} == {device_id, new.json()["id"]}


@pytest.mark.parametrize("kind", ["transaction", "batch"])
async def test_put_device_entries_keep_their_readings(
    client: httpx.AsyncClient, app: Any, settings: Settings, kind: str
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    gateway_id = f"phg-{uuid4().hex[:16]}.000000000000"
    cuff, gateway = f"cuff-{uuid4().hex[:8]}", f"gw-{uuid4().hex[:8]}"
    when = datetime.now(UTC) - timedelta(minutes=5)
    reading = {
        **observation(patient.id, value=64, effective=when),
        "device": {"reference": "urn:uuid:9d7c8a52-0000-4000-8000-000000000001"},
    }
    by_id = {**observation(patient.id, value=65), "device": {"reference": f"Device/{gateway_id}"}}
    bundle = {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {
                "fullUrl": "urn:uuid:9d7c8a52-0000-4000-8000-000000000001",
                "resource": _device(cuff),
                "request": {"method": "PUT", "url": f"Device?identifier={DEVICE_SYSTEM}|{cuff}"},
            },
            {
                "resource": {**_device(gateway), "id": gateway_id},
                "request": {"method": "PUT", "url": f"Device/{gateway_id}"},
            },
            {"resource": reading, "request": {"method": "POST", "url": "Observation"}},
            {"resource": by_id, "request": {"method": "POST", "url": "Observation"}},
        ],
    }
    response = await client.post("/fhir", json=bundle, headers=patient.headers)
    assert response.status_code == 200, response.text
    statuses = [e["response"]["status"] for e in response.json()["entry"]]
    assert statuses == ["201 Created"] * 4, response.text
    cuff_ref = response.json()["entry"][0]["response"]["location"]
    stored = {r["valueQuantity"]["value"]: r["device"] for r in await readings_of(client, patient)}
    assert stored == {64: {"reference": cuff_ref}, 65: {"reference": f"Device/{gateway_id}"}}

    again = await client.post("/fhir", json=bundle, headers=patient.headers)
    assert [e["response"]["status"] for e in again.json()["entry"]] == ["200 OK"] * 4


async def test_another_centre_neither_reads_nor_takes_a_device(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre, elsewhere = await create_centre(app, settings), await create_centre(app, settings)
    serial = f"cuff-{uuid4().hex[:8]}"
    created = await client.post(
        "/fhir/Device", json=_device(serial), headers=auth(centre.admin_token)
    )
    device_id = created.json()["id"]
    outsider = auth(elsewhere.admin_token)
    assert (await client.get(f"/fhir/Device/{device_id}", headers=outsider)).status_code == 404
    taken = await client.put(f"/fhir/Device/{device_id}", json=_device(serial), headers=outsider)
    assert taken.status_code == 409, taken.text
    assert taken.json()["issue"][0]["expression"] == ["Device.id"]
    search = await client.get(
        "/fhir/Device", params={"identifier": f"{DEVICE_SYSTEM}|{serial}"}, headers=outsider
    )
    assert search.json().get("entry", []) == []
    read = await client.get(f"/fhir/Device/{device_id}", headers=auth(centre.admin_token))
    assert read.json()["meta"]["versionId"] == "1"


async def test_another_patients_kit_is_answered_not_changed(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    """A gateway uploading a Device gets no error, but a patient's token changes only
    the kit they hold, and never learns who holds another."""
    centre = await create_centre(app, settings)
    a, b = await enrol(client, settings, centre), await enrol(client, settings, centre)
    serial = f"cuff-{uuid4().hex[:8]}"
    url = f"/fhir/Device?identifier={DEVICE_SYSTEM}|{serial}"
    assert (await client.put(url, json=_device(serial), headers=a.headers)).status_code == 201
    answered = await client.put(url, json=_device(serial, "forged"), headers=b.headers)
    assert answered.status_code == 200, answered.text
    assert answered.json()["modelNumber"] == "UA-651"
    assert "patient" not in answered.json()
    assert a.id not in answered.text


async def test_device_identifiers_are_not_logged(
    client: httpx.AsyncClient, app: Any, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    centre = await create_centre(app, settings)
    gateway = mint_token(settings, role=Role.system, subject="gw", centres=[centre.id])
    serial = f"SN{uuid4().hex[:10]}"
    with caplog.at_level(logging.INFO):  # the level the service logs at
        await client.put(
            f"/fhir/Device?identifier={DEVICE_SYSTEM}|{serial}",
            json=_device(serial),
            headers=auth(gateway),
        )
        await client.put("/fhir/Device/not%20an%20id", json=_device(serial), headers=auth(gateway))
        await client.get("/fhir/Device", params={"identifier": serial}, headers=auth(gateway))
    assert caplog.records
    for record in caplog.records:
        assert serial not in record.getMessage()
        assert serial not in str(record.__dict__)
