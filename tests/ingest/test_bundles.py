"""Gateway Bundles: the PHD IG shape, all or nothing, never enrolling anyone."""

from __future__ import annotations

from typing import Any

import httpx

from service.auth.dev_issuer import mint_token
from service.auth.principal import Role
from service.settings import Settings
from tests.factories import (
    auth,
    create_centre,
    enrol,
    gateway_bundle,
    new_identity_number,
    observation,
    readings_of,
)


async def test_gateway_transaction_resolves_patient_and_registers_device(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    readings = [observation("x", value=70 + i, identifier=f"seq-{i}") for i in range(3)]
    bundle = gateway_bundle(patient.identity_number, readings, serial="cuff-0001")
    response = await client.post("/fhir", json=bundle, headers=patient.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "transaction-response"
    statuses = [e["response"]["status"] for e in body["entry"]]
    assert statuses == ["200 OK", "201 Created", "201 Created", "201 Created", "201 Created"]
    assert body["entry"][0]["response"]["location"] == f"Patient/{patient.id}"
    device_ref = body["entry"][1]["response"]["location"]
    stored = await readings_of(client, patient)
    assert sorted(r["valueQuantity"]["value"] for r in stored) == [70, 71, 72]
    assert {r["device"]["reference"] for r in stored} == {device_ref}

    again = await client.post("/fhir", json=bundle, headers=patient.headers)
    assert [e["response"]["status"] for e in again.json()["entry"]] == ["200 OK"] * 5
    assert again.json()["entry"][1]["response"]["location"] == device_ref
    assert len(await readings_of(client, patient)) == 3


async def test_a_gateway_never_enrols_an_unknown_patient(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    gateway = mint_token(settings, role=Role.system, subject="gw-1", centres=[centre.id])
    bundle = gateway_bundle(new_identity_number(), [observation("x")], serial="cuff-0002")
    response = await client.post("/fhir", json=bundle, headers=auth(gateway))
    assert response.status_code == 422
    issue = response.json()["issue"][0]
    assert "not enrolled" in issue["diagnostics"]
    assert issue["expression"] == ["Bundle.entry[0].resource.identifier"]
    # The identity number is personal data: it is never echoed.
    assert bundle["entry"][0]["resource"]["identifier"][0]["value"] not in response.text


async def test_system_client_writes_only_for_its_centre(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    home, other = await create_centre(app, settings), await create_centre(app, settings)
    patient = await enrol(client, settings, other)
    gateway = mint_token(settings, role=Role.system, subject="gw-2", centres=[home.id])
    bundle = gateway_bundle(patient.identity_number, [observation("x")], serial="cuff-0003")
    response = await client.post("/fhir", json=bundle, headers=auth(gateway))
    assert response.status_code == 422
    single = await client.post(
        "/fhir/Observation", json=observation(patient.id), headers=auth(gateway)
    )
    assert single.status_code == 422
    assert await readings_of(client, patient) == []


async def test_transaction_is_all_or_nothing(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    readings = [
        observation("x", value=70),
        observation("x", "59408-5", 140, "%"),
        observation("x", value=75),
    ]
    response = await client.post(
        "/fhir",
        json=gateway_bundle(patient.identity_number, readings, "cuff-4"),
        headers=patient.headers,
    )
    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"] == [
        "Bundle.entry[3].resource.valueQuantity.value"
    ]
    assert await readings_of(client, patient) == []


async def test_bundle_type_must_be_transaction_or_batch(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    response = await client.post(
        "/fhir",
        json={"resourceType": "Bundle", "type": "collection", "entry": []},
        headers=patient.headers,
    )
    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"] == ["Bundle.type"]
