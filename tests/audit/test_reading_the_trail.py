"""Auditors read the trail of their centres (JSON and FHIR AuditEvent); a patient
reads who has accessed their data; reading the trail is itself recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fhir.resources.R4B.auditevent import AuditEvent

from service.settings import Settings
from tests.audit.helpers import (
    audit_records,
    auditor_token,
    new_request_id,
    records_of_request,
    with_request_id,
)
from tests.factories import auth, create_centre, enrol, observation


async def test_an_auditor_filters_by_patient_actor_and_period(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    first, second = await enrol(client, settings, centre), await enrol(client, settings, centre)
    enrolled = datetime.now(UTC)
    for patient in (first, second):
        read = await client.get(f"/fhir/Patient/{patient.id}", headers=auth(centre.nurse_token))
        assert read.status_code == 200
    read_by_then = datetime.now(UTC)
    auditor = auditor_token(settings, centre)
    period = {"from": enrolled.isoformat(), "to": read_by_then.isoformat()}
    records = await audit_records(client, auditor, patient=first.id, **period)
    assert [(r["patient_id"], r["action"], r["actor_role"]) for r in records] == [
        (first.id, "R", "nurse")
    ]
    by_actor = await audit_records(client, auditor, actor=f"nurse-{centre.id}", **period)
    assert sorted(r["patient_id"] for r in by_actor) == sorted([first.id, second.id])
    earlier = await audit_records(client, auditor, patient=first.id, to=enrolled.isoformat())
    assert [(r["action"], r["resource_type"]) for r in earlier] == [("C", "Patient")]
    tomorrow = (read_by_then + timedelta(days=1)).isoformat()
    assert await audit_records(client, auditor, patient=first.id, **{"from": tomorrow}) == []


async def test_pages_follow_each_other_newest_first_without_repeats(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    for _ in range(4):
        await client.get(f"/fhir/Patient/{patient.id}", headers=auth(centre.nurse_token))
    auditor = auditor_token(settings, centre)
    # Each page read is recorded too (about this patient): leave those out.
    whole = _accesses(await audit_records(client, auditor, patient=patient.id))
    paged = _accesses(await audit_records(client, auditor, patient=patient.id, count=2))
    assert [r["id"] for r in paged] == [r["id"] for r in whole]
    assert [r["action"] for r in whole] == ["R", "R", "R", "R", "C"]
    times = [r["recorded_at"] for r in whole]
    assert times == sorted(times, reverse=True)


async def test_an_auditor_reaches_only_the_centres_in_their_token(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre, elsewhere = await create_centre(app, settings), await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await client.get(f"/fhir/Patient/{patient.id}", headers=auth(centre.nurse_token))
    assert await audit_records(client, auditor_token(settings, elsewhere), patient=patient.id) == []
    both = auditor_token(settings, elsewhere, centre)
    records = _accesses(await audit_records(client, both, patient=patient.id))
    assert [r["action"] for r in records] == ["R", "C"]


def _accesses(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records of accesses to the patient's data, not of auditors reading the trail."""
    return [r for r in records if r["resource_type"] != "AuditEvent"]


async def test_audit_events_follow_the_basic_audit_log_patterns(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    request_id = new_request_id()
    posted = await client.post(
        "/fhir/Observation", json=observation(patient.id), headers=patient.headers
    )
    reading_id = posted.json()["id"]
    await client.get(
        f"/fhir/Observation/{reading_id}",
        headers=with_request_id(auth(centre.nurse_token), request_id),
    )
    await client.get(f"/fhir/Observation/{reading_id}")  # 401
    await client.get("/fhir/Observation", headers=auth(centre.nurse_token))
    since = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    response = await client.get(
        "/fhir/AuditEvent",
        params={"patient": f"Patient/{patient.id}", "date": f"ge{since}"},
        headers=auth(auditor_token(settings, centre)),
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle = response.json()
    assert bundle["type"] == "searchset"
    events = [e["resource"] for e in bundle["entry"]]
    for event in events:
        AuditEvent.model_validate(event)  # a valid R4 AuditEvent
    assert {(e["action"], e["outcome"]) for e in events} == {
        ("C", "0"),
        ("R", "0"),
        ("R", "4"),
        ("E", "0"),
    }
    [read] = [e for e in events if e["entity"][-1]["what"]["identifier"]["value"] == request_id]
    assert read["type"]["code"] == "rest"
    assert read["subtype"][0]["code"] == "read"
    assert (read["action"], read["outcome"]) == ("R", "0")
    assert read["meta"]["profile"] == [
        "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientRead"
    ]
    user = next(a for a in read["agent"] if a["requestor"])
    assert user["who"]["identifier"]["value"] == f"nurse-{centre.id}"
    what = [e["what"].get("reference") for e in read["entity"] if "reference" in e["what"]]
    assert what == [f"Patient/{patient.id}", f"Observation/{reading_id}"]


async def test_a_patient_sees_who_has_accessed_their_data(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre, elsewhere = await create_centre(app, settings), await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await client.post("/fhir/Observation", json=observation(patient.id), headers=patient.headers)
    await client.get(f"/fhir/Observation?patient={patient.id}", headers=patient.headers)
    await client.get(f"/fhir/Patient/{patient.id}", headers=auth(centre.nurse_token))
    await client.get(f"/fhir/Patient/{patient.id}", headers=auth(elsewhere.nurse_token))  # 404
    response = await client.get("/api/me/access-log", headers=patient.headers)
    assert response.status_code == 200
    entries = response.json()["entries"]
    seen = [(e["role"], e["organisation"], e["action"], e["resource_type"]) for e in entries]
    # Newest first: the nurse's read, then the enrolment. Not the patient's own use,
    # not the refused attempt from the other centre.
    assert seen == [
        ("nurse", f"Centre {centre.id}", "read", "Patient"),
        ("nurse", f"Centre {centre.id}", "create", "Patient"),
    ]
    assert f"nurse-{centre.id}" not in response.text


async def test_reading_the_trail_is_itself_recorded(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    auditor = auditor_token(settings, centre)
    request_id = new_request_id()
    response = await client.get(
        "/api/audit",
        params={"patient": patient.id},
        headers=with_request_id(auth(auditor), request_id),
    )
    assert response.status_code == 200
    [reading] = await records_of_request(client, auditor, request_id, patient=patient.id)
    assert (reading["actor_role"], reading["action"], reading["resource_type"]) == (
        "auditor",
        "E",
        "AuditEvent",
    )
    log = (await client.get("/api/me/access-log", headers=patient.headers)).json()["entries"]
    assert (log[0]["role"], log[0]["action"], log[0]["resource_type"]) == (
        "auditor",
        "search",
        "AuditEvent",
    )


async def test_only_a_patient_has_an_access_log(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    response = await client.get("/api/me/access-log", headers=auth(centre.nurse_token))
    assert response.status_code == 403
    assert (await client.get("/api/me/access-log")).status_code == 401
