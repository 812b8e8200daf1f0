"""Every example the HL7 Personal Health Device IG publishes goes through ingest.

Each file lands in its class: a measurement (stored, normalised, triaged), a device or
context observation (stored as received, never triaged), or a refusal naming what is
wrong. Nothing answers 5xx, and sending every file a second time stores nothing new.
The test enrols a patient with the example patient's identifier, registers the
example devices as a gateway would, replaces IG references with ours and moves the
times to the recent past; nothing else in a file is changed.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from service.settings import Settings
from tests.factories import auth, create_centre, enrol, new_identity_number, patient_resource

DATA = Path(__file__).resolve().parents[1] / "data" / "phd"
IG_PATIENT = "Patient/patientExample-1"
EXAMPLE_IDENTIFIER = {"system": "urn:oid:2.999.1.2.3.4.5.6.7.8.10", "value": "sisansarahId"}
TIME_KEYS = {"effectiveDateTime", "valueDateTime", "effectiveInstant", "issued", "start", "end"}

MEASUREMENTS = {
    "compound-numeric-blood-pressure.json": "blood_pressure",
    "compound-numeric-blood-pressure-no-mean.json": "blood_pressure",
    "glucose-observation.json": "glucose",
    "temperature-observation.json": "body_temperature",
    "numeric-spo2-alarm.json": "spo2",
    "numeric-spotnumeric.json": "heart_rate",
    "compound-observation-glucose.json": "glucose_capillary",
}
CONTEXT = {
    "bits-observation.json": "device_status",
    "bpm-status.json": "device_status",
    "coin-20181119174911.json": "coincident_timestamp",
    "coin-20181119202022.json": "coincident_timestamp",
    "coin-example-1.json": "coincident_timestamp",
    "coin-example-timefault.json": "coincident_timestamp",
    "meal-context-observation.json": "meal_context",
    "numeric-observation-not-a-number.json": "signal_quality",
    "rtsa-example.json": "waveform",
    "rtsa-example-2.json": "waveform",
    "string-observation-1.json": "phd_other",
    "stringenum-1234.json": "program_id",
}
OTHER = sorted(
    p.name
    for p in DATA.glob("*.json")
    if p.name not in MEASUREMENTS and p.name not in CONTEXT and not p.name.startswith("bundle")
)


def _load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((DATA / name).read_text())
    return document


def _times(node: Any) -> list[datetime]:
    found: list[datetime] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in TIME_KEYS and isinstance(value, str) and "T" in value:
                found.append(datetime.fromisoformat(value.replace("Z", "+00:00")))
            else:
                found.extend(_times(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_times(item))
    return found


def _shift(node: Any, delta: timedelta) -> Any:
    """Every dateTime moved by ``delta``, its UTC offset (even -00:00) kept as written."""
    if isinstance(node, dict):
        return {
            k: _shift_time(v, delta)
            if k in TIME_KEYS and isinstance(v, str) and "T" in v
            else _shift(v, delta)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_shift(item, delta) for item in node]
    return node


def _shift_time(value: str, delta: timedelta) -> str:
    suffix = re.search(r"(Z|[+-]\d\d:\d\d)$", value)
    moved = datetime.fromisoformat(value.replace("Z", "+00:00")) + delta
    text = moved.replace(tzinfo=None).isoformat()
    return text + (suffix.group(1) if suffix else "")


def _recent(document: dict[str, Any]) -> dict[str, Any]:
    latest = max(_times(document))
    return _shift(document, (datetime.now(UTC) - timedelta(days=1)) - latest)  # type: ignore[no-any-return]


def _rewrite(document: Any, mapping: dict[str, str]) -> Any:
    text = json.dumps(document)
    for ours, theirs in mapping.items():
        text = text.replace(f'"{ours}"', f'"{theirs}"')
    return json.loads(text)


@pytest.fixture(scope="module")
async def world(client: httpx.AsyncClient, app: Any, settings: Settings) -> dict[str, Any]:
    """A centre, the example patient enrolled, the example devices registered."""
    centre = await create_centre(app, settings)
    resource = patient_resource(new_identity_number(), centre.id)
    resource["identifier"].append(EXAMPLE_IDENTIFIER)
    enrolled = await client.post("/fhir/Patient", json=resource, headers=auth(centre.nurse_token))
    assert enrolled.status_code == 201, enrolled.text
    patient_id = enrolled.json()["id"]
    from service.auth.dev_issuer import mint_token
    from service.auth.principal import Role

    token = mint_token(settings, role=Role.patient, subject=patient_id)
    device_files = sorted(p.name for p in DATA.glob("ph[dg]-*.json"))
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000001",
            "resource": {"resourceType": "Patient", "identifier": [EXAMPLE_IDENTIFIER]},
            "request": {"method": "POST", "url": "Patient"},
        }
    ]
    for name in device_files:
        entries.append({"resource": _load(name), "request": {"method": "POST", "url": "Device"}})
    registered = await client.post(
        "/fhir",
        json={"resourceType": "Bundle", "type": "transaction", "entry": entries},
        headers=auth(token),
    )
    assert registered.status_code == 200, registered.text
    mapping = {IG_PATIENT: f"Patient/{patient_id}"}
    for name, entry in zip(device_files, registered.json()["entry"][1:], strict=True):
        mapping[f"Device/{_load(name)['id']}"] = entry["response"]["location"]
    return {"patient_id": patient_id, "token": token, "mapping": mapping, "centre": centre}


async def _stored(app: Any, patient_id: str) -> list[Any]:
    async with app.state.dho.engine.connect() as conn:
        query = sa.text(
            "SELECT kind, measurement, value, unit, components, device_id, time_doubtful "
            "FROM observation WHERE patient_id = :p"
        )
        return list((await conn.execute(query, {"p": patient_id})).all())


async def _post_twice(
    client: httpx.AsyncClient, app: Any, world: dict[str, Any], name: str
) -> tuple[httpx.Response, httpx.Response, int]:
    document = _rewrite(_recent(_load(name)), world["mapping"])
    before = len(await _stored(app, world["patient_id"]))
    first = await client.post("/fhir/Observation", json=document, headers=auth(world["token"]))
    after_first = len(await _stored(app, world["patient_id"]))
    second = await client.post("/fhir/Observation", json=document, headers=auth(world["token"]))
    assert len(await _stored(app, world["patient_id"])) == after_first
    return first, second, after_first - before


@pytest.mark.parametrize("name", sorted(MEASUREMENTS))
async def test_measurements_are_stored_and_normalised(
    client: httpx.AsyncClient, app: Any, world: dict[str, Any], name: str
) -> None:
    first, second, added = await _post_twice(client, app, world, name)
    assert (first.status_code, second.status_code, added) == (201, 200, 1), first.text
    rows = await _stored(app, world["patient_id"])
    assert any(r.kind == "measurement" and r.measurement == MEASUREMENTS[name] for r in rows)


@pytest.mark.parametrize("name", sorted(CONTEXT))
async def test_device_and_context_observations_are_kept_not_triaged(
    client: httpx.AsyncClient, app: Any, world: dict[str, Any], name: str
) -> None:
    first, second, added = await _post_twice(client, app, world, name)
    assert (first.status_code, second.status_code, added) == (201, 200, 1), first.text
    rows = await _stored(app, world["patient_id"])
    assert any(r.kind == "context" and r.measurement == CONTEXT[name] for r in rows)


@pytest.mark.parametrize("name", OTHER)
async def test_other_resources_are_handled_without_5xx(
    client: httpx.AsyncClient, world: dict[str, Any], name: str
) -> None:
    document = _rewrite(_load(name), world["mapping"])
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"resource": document, "request": {"method": "POST", "url": document["resourceType"]}}
        ],
    }
    response = await client.post("/fhir", json=bundle, headers=auth(world["token"]))
    assert response.status_code == 200
    status = response.json()["entry"][0]["response"]["status"]
    expected = {
        "Device": ("200", "201"),
        "Patient": ("200", "422"),  # example 1 is our enrolled patient; example 2 is nobody
        "DeviceMetric": ("422",),
    }[document["resourceType"]]
    assert status.startswith(expected), response.text


async def test_the_example_gateway_bundle(
    client: httpx.AsyncClient, app: Any, world: dict[str, Any]
) -> None:
    bundle = _recent(_load("bundle-example-1.json"))
    first = await client.post("/fhir", json=bundle, headers=auth(world["token"]))
    assert first.status_code == 200, first.text
    statuses = [e["response"]["status"] for e in first.json()["entry"]]
    assert all(s.startswith(("200", "201")) for s in statuses), statuses
    search = await client.get(
        "/fhir/Observation",
        params={"patient": world["patient_id"], "code": "8867-4,59408-5"},
        headers=auth(world["token"]),
    )
    readings = {
        (r["code"]["coding"][0]["code"], r["valueQuantity"]["value"], r["valueQuantity"]["code"])
        for r in (e["resource"] for e in search.json()["entry"])
    }
    original = {
        (
            e["resource"]["code"]["coding"][0]["code"],
            e["resource"]["valueQuantity"]["value"],
            e["resource"]["valueQuantity"]["code"],
        )
        for e in bundle["entry"]
        if "valueQuantity" in e["resource"]
    }
    assert original <= readings
    count = len(await _stored(app, world["patient_id"]))
    again = await client.post("/fhir", json=bundle, headers=auth(world["token"]))
    assert again.status_code == 200
    assert len(await _stored(app, world["patient_id"])) == count


def _reading_key(resource: dict[str, Any]) -> tuple[Any, ...]:
    """What a nurse compares: the code and time as sent, the value and its unit."""
    quantity = resource["valueQuantity"]
    return (
        resource["code"]["coding"][0]["code"],
        resource["effectiveDateTime"],
        quantity["value"],
        quantity["code"],
    )


async def test_the_continuous_oximeter_bundle(
    client: httpx.AsyncClient, app: Any, world: dict[str, Any]
) -> None:
    bundle = _rewrite(_recent(_load("bundle-continuousnonin.json")), world["mapping"])
    first = await client.post("/fhir", json=bundle, headers=auth(world["token"]))
    assert first.status_code == 200, first.text
    search = await client.get(
        "/fhir/Observation",
        params={"patient": world["patient_id"], "code": "2708-6,8867-4", "_count": 500},
        headers=auth(world["token"]),
    )
    found = {_reading_key(e["resource"]) for e in search.json()["entry"]}
    sent = {
        _reading_key(e["resource"])
        for e in bundle["entry"]
        if e["resource"]["code"]["coding"][0]["code"] in ("150456", "149530")
        and "valueQuantity" in e["resource"]
    }
    assert len(sent) > 10
    assert sent <= found
    rows = await _stored(app, world["patient_id"])
    assert any(r.measurement == "battery" and r.kind == "context" for r in rows)
    count = len(rows)
    again = await client.post("/fhir", json=bundle, headers=auth(world["token"]))
    assert again.status_code == 200
    assert len(await _stored(app, world["patient_id"])) == count


async def test_unknown_codes_are_refused_naming_the_code(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    document = _rewrite(
        _recent(_load("numeric-spotnumeric.json")), {IG_PATIENT: f"Patient/{patient.id}"}
    )
    document["code"] = {"coding": [{"system": "urn:iso:std:iso:11073:10101", "code": "999999"}]}
    response = await client.post("/fhir/Observation", json=document, headers=patient.headers)
    assert response.status_code == 422
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["Observation.code"]
    assert "999999" in issue["diagnostics"]


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("ph[dg]-*.json")))
async def test_example_devices_by_update_as_the_ig_sends_them(
    client: httpx.AsyncClient, app: Any, settings: Settings, name: str
) -> None:
    """Update-as-create under the example's own id, then conditional update on its
    identifier in a transaction: the gateway gets no error either way."""
    patient = await enrol(client, settings, await create_centre(app, settings))
    device = _load(name)
    first = await client.put(f"/fhir/Device/{device['id']}", json=device, headers=patient.headers)
    assert first.status_code == 201, first.text
    assert first.json()["identifier"] == device["identifier"]
    again = await client.put(f"/fhir/Device/{device['id']}", json=device, headers=patient.headers)
    assert again.status_code == 200, again.text
    identifier = device["identifier"][0]
    condition = f"Device?identifier={identifier['system']}|{identifier['value']}"
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": device, "request": {"method": "PUT", "url": condition}}],
    }
    response = await client.post("/fhir", json=bundle, headers=patient.headers)
    assert response.status_code == 200, response.text
    answer = response.json()["entry"][0]["response"]
    assert (answer["status"], answer["location"]) == ("200 OK", f"Device/{device['id']}")
