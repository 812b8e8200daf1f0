"""Every access to health data leaves one record naming who, whose, what and how it
went; refused attempts too; and never an identity number."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from service.auth.dev_issuer import mint_token
from service.auth.principal import Role
from service.patients.identity_number import FNR_SYSTEM
from service.settings import Settings
from tests.audit.helpers import (
    all_rows,
    audit_records,
    auditor_token,
    new_request_id,
    records_of_request,
    with_request_id,
)
from tests.factories import auth, create_centre, enrol, observation


async def test_a_nurse_reading_a_patient_leaves_one_record(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    request_id = new_request_id()
    response = await client.get(
        f"/fhir/Patient/{patient.id}", headers=with_request_id(auth(centre.nurse_token), request_id)
    )
    assert response.status_code == 200
    records = await records_of_request(
        client, auditor_token(settings, centre), request_id, patient=patient.id
    )
    assert len(records) == 1
    record = records[0]
    assert record["actor"] == f"nurse-{centre.id}"
    assert record["actor_role"] == "nurse"
    assert record["actor_centres"] == [centre.id]
    assert record["patient_id"] == patient.id
    assert record["centre_id"] == centre.id
    assert (record["action"], record["subtype"]) == ("R", "read")
    assert (record["resource_type"], record["resource_id"]) == ("Patient", patient.id)
    assert (record["outcome"], record["status"]) == ("success", 200)


async def test_enrolment_and_readings_are_recorded_as_creates(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    request_id = new_request_id()
    response = await client.post(
        "/fhir/Observation",
        json=observation(patient.id),
        headers=with_request_id(patient.headers, request_id),
    )
    assert response.status_code == 201
    auditor = auditor_token(settings, centre)
    [reading] = await records_of_request(client, auditor, request_id, patient=patient.id)
    assert (reading["action"], reading["resource_type"]) == ("C", "Observation")
    assert reading["resource_id"] == response.json()["id"]
    assert (reading["actor"], reading["actor_role"]) == (patient.id, "patient")
    assert reading["centre_id"] == centre.id
    enrolments = [
        r for r in await audit_records(client, auditor, patient=patient.id) if r["action"] == "C"
    ]
    assert {(r["resource_type"], r["status"], r["actor_role"]) for r in enrolments} == {
        ("Patient", 201, "nurse"),
        ("Observation", 201, "patient"),
    }


async def test_a_search_writes_one_record_per_patient_it_returned(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    first, second = await enrol(client, settings, centre), await enrol(client, settings, centre)
    for patient in (first, second):
        posted = await client.post(
            "/fhir/Observation", json=observation(patient.id), headers=patient.headers
        )
        assert posted.status_code == 201
    request_id = new_request_id()
    response = await client.get(
        "/fhir/Observation?code=8867-4",
        headers=with_request_id(auth(centre.nurse_token), request_id),
    )
    assert len(response.json()["entry"]) == 2
    records = await records_of_request(client, auditor_token(settings, centre), request_id)
    assert sorted(r["patient_id"] for r in records) == sorted([first.id, second.id])
    assert {(r["action"], r["subtype"], r["query"]) for r in records} == {
        ("E", "search-type", "code=8867-4")
    }


async def test_a_gateway_bundle_is_recorded_for_each_patient_it_touched(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre, elsewhere = await create_centre(app, settings), await create_centre(app, settings)
    first, second = await enrol(client, settings, centre), await enrol(client, settings, centre)
    stranger = await enrol(client, settings, elsewhere)
    entries = [
        {"resource": observation(p.id), "request": {"method": "POST", "url": "Observation"}}
        for p in (first, second, stranger)
    ]
    gateway = mint_token(settings, role=Role.system, subject="gateway-1", centres=[centre.id])
    request_id = new_request_id()
    response = await client.post(
        "/fhir",
        json={"resourceType": "Bundle", "type": "batch", "entry": entries},
        headers=with_request_id(auth(gateway), request_id),
    )
    assert response.status_code == 200
    records = await records_of_request(client, auditor_token(settings, centre), request_id)
    outcomes = sorted((r["patient_id"] or "", r["outcome"], r["status"]) for r in records)
    # The stranger's reading was refused inside the batch: recorded, without naming
    # a patient the gateway may not reach.
    assert outcomes == sorted(
        [(first.id, "success", 200), (second.id, "success", 200), ("", "failed", 422)]
    )
    assert {(r["action"], r["subtype"], r["resource_type"]) for r in records} == {
        ("C", "batch", "Bundle")
    }


async def test_denied_attempts_are_recorded(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre, elsewhere = await create_centre(app, settings), await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    outsider, anonymous = new_request_id(), new_request_id()
    response = await client.get(
        f"/fhir/Patient/{patient.id}",
        headers=with_request_id(auth(elsewhere.nurse_token), outsider),
    )
    assert response.status_code == 404
    response = await client.get(f"/fhir/Patient/{patient.id}", headers={"X-Request-Id": anonymous})
    assert response.status_code == 401
    auditor = auditor_token(settings, centre)
    [denied] = await records_of_request(client, auditor, outsider, patient=patient.id)
    assert (denied["actor"], denied["outcome"], denied["status"]) == (
        f"nurse-{elsewhere.id}",
        "denied",
        404,
    )
    assert denied["actor_centres"] == [elsewhere.id]
    assert (denied["action"], denied["resource_id"]) == ("R", patient.id)
    [unauthenticated] = await records_of_request(client, auditor, anonymous, patient=patient.id)
    assert (unauthenticated["actor"], unauthenticated["outcome"]) == (None, "denied")
    assert unauthenticated["status"] == 401


async def test_no_identity_number_is_stored_in_the_audit_trail(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    nurse = auth(centre.nurse_token)
    number = patient.identity_number
    request_id = new_request_id()
    found = await client.get(
        "/fhir/Patient",
        params={"identifier": f"{FNR_SYSTEM}|{number}"},
        headers=with_request_id(nurse, request_id),
    )
    assert found.json()["entry"][0]["resource"]["id"] == patient.id
    # The number wherever a caller might put it: a search parameter, the path, a
    # formatted variant, a request id.
    for url in (
        f"/fhir/Observation?patient={number}",
        f"/fhir/Observation?subject=Patient/{number[:6]}%20{number[6:]}",
        f"/fhir/Patient/{number}",
        f"/fhir/Patient?identifier={number}",
    ):
        await client.get(url, headers=nurse)
    await client.get("/fhir/Patient", headers={**nurse, "X-Request-Id": f"fnr-{number}"})
    rows = await all_rows(app)
    stored = " ".join(str(value) for row in rows for value in row)
    assert number not in stored
    assert number[:6] + " " + number[6:] not in stored
    [record] = await records_of_request(
        client, auditor_token(settings, centre), request_id, patient=patient.id
    )
    assert record["query"] == f"identifier={FNR_SYSTEM}|[redacted]"


@pytest.mark.parametrize("url", ["/api/audit", "/fhir/AuditEvent"])
async def test_a_nurse_may_not_read_the_audit_trail(
    client: httpx.AsyncClient, app: Any, settings: Settings, url: str
) -> None:
    centre = await create_centre(app, settings)
    request_id = new_request_id()
    response = await client.get(url, headers=with_request_id(auth(centre.nurse_token), request_id))
    assert response.status_code == 403
    [attempt] = await records_of_request(client, auditor_token(settings, centre), request_id)
    assert (attempt["actor"], attempt["resource_type"]) == (f"nurse-{centre.id}", "AuditEvent")
    assert (attempt["outcome"], attempt["status"]) == ("denied", 403)
