"""A reading judged as it arrives: the patient gets a colour and advice, the centre one
item per patient, worst severity first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.factories import (
    Centre,
    blood_pressure,
    create_centre,
    enrol,
    observation,
    queue_of,
    readings_of,
    set_care_plan,
)

TRIAGE = "https://fhir.dho.example/CodeSystem/triage-colour"


def colour(resource: dict[str, Any]) -> str | None:
    for concept in resource.get("interpretation", []):
        for coding in concept.get("coding", []):
            if coding["system"] == TRIAGE and coding["code"] != "critical":
                return str(coding["code"])
    return None


async def _patient_with_plan(client: httpx.AsyncClient, app: Any, settings: Any) -> Any:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "heart_failure")
    return centre, patient


async def test_a_red_reading_answers_red_with_advice_and_opens_one_red_item(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    centre, patient = await _patient_with_plan(client, app, settings)
    response = await client.post(
        "/fhir/Observation", json=blood_pressure(patient.id, 185, 95), headers=patient.headers
    )
    assert response.status_code == 201, response.text
    assert colour(response.json()) == "red"
    assert "Oppfølgingstjenesten" in response.json()["interpretation"][-1]["text"]

    items = await queue_of(client, centre)
    assert [(i["patient_id"], i["severity"], i["state"]) for i in items] == [
        (patient.id, "red", "open")
    ]
    finding = items[0]["findings"][0]
    assert (finding["rule"], finding["measurement"], finding["value"]) == (
        "threshold.high",
        "systolic",
        185,
    )
    assert items[0]["trends"]["systolic"][-1]["value"] == 185


async def test_a_green_reading_answers_green_and_raises_nothing(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    centre, patient = await _patient_with_plan(client, app, settings)
    response = await client.post(
        "/fhir/Observation", json=observation(patient.id, "8867-4", 70), headers=patient.headers
    )
    assert colour(response.json()) == "green"
    assert await queue_of(client, centre) == []


async def test_a_second_red_finding_joins_the_one_item(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    centre, patient = await _patient_with_plan(client, app, settings)
    for resource in (
        blood_pressure(patient.id, 185, 95),
        observation(patient.id, "8867-4", 140),
    ):
        response = await client.post("/fhir/Observation", json=resource, headers=patient.headers)
        assert colour(response.json()) == "red"
    items = await queue_of(client, centre)
    assert len(items) == 1
    assert sorted(f["measurement"] for f in items[0]["findings"]) == ["heart_rate", "systolic"]


async def test_claim_is_won_once_then_resolve_closes_the_item(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    centre, patient = await _patient_with_plan(client, app, settings)
    await client.post(
        "/fhir/Observation", json=blood_pressure(patient.id, 185, 95), headers=patient.headers
    )
    item = (await queue_of(client, centre))[0]
    other = Centre(centre.id, _second_nurse(settings, centre), centre.admin_token)
    first = await client.post(f"/api/queue/{item['id']}/claim", headers=_h(centre.nurse_token))
    second = await client.post(f"/api/queue/{item['id']}/claim", headers=_h(other.nurse_token))
    assert first.status_code == 200, first.text
    assert first.json()["state"] == "claimed"
    assert second.status_code == 409
    resolved = await client.post(
        f"/api/queue/{item['id']}/resolve",
        json={"outcome": "handled_by_centre", "actions": ["phone_call"], "minutes": 12},
        headers=_h(centre.nurse_token),
    )
    assert resolved.status_code == 200, resolved.text
    assert (resolved.json()["state"], resolved.json()["outcome"]) == (
        "resolved",
        "handled_by_centre",
    )
    assert await queue_of(client, centre) == []
    history = await client.get(f"/api/queue/{item['id']}/history", headers=_h(centre.nurse_token))
    assert [e["kind"] for e in history.json()] == ["created", "claimed", "resolved"]


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _second_nurse(settings: Any, centre: Centre) -> str:
    from service.auth.dev_issuer import mint_token
    from service.auth.principal import Role

    return mint_token(
        settings, role=Role.nurse, subject=f"nurse-2-{centre.id}", centres=[centre.id]
    )


async def _post(client: httpx.AsyncClient, patient: Any, resource: dict[str, Any]) -> Any:
    response = await client.post("/fhir/Observation", json=resource, headers=patient.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_red_raises_a_waiting_yellow_item_and_moves_it_up(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    """Heart failure: pulse above 100 is yellow after three in a row; 131 is red."""
    centre = await create_centre(app, settings)
    slow, fast = await enrol(client, settings, centre), await enrol(client, settings, centre)
    for patient in (slow, fast):
        await set_care_plan(client, patient, "heart_failure")
    for value in (105, 106, 107):
        await _post(client, slow, observation(slow.id, "8867-4", value))
    for value in (104, 105, 106):
        await _post(client, fast, observation(fast.id, "8867-4", value))
    queue = await queue_of(client, centre)
    assert [(i["patient_id"], i["severity"]) for i in queue] == [
        (slow.id, "yellow"),
        (fast.id, "yellow"),
    ]
    await _post(client, fast, observation(fast.id, "8867-4", 135))
    queue = await queue_of(client, centre)
    assert [(i["patient_id"], i["severity"]) for i in queue] == [
        (fast.id, "red"),
        (slow.id, "yellow"),
    ]
    assert len({i["id"] for i in queue}) == 2
    reds = await queue_of(client, centre, severity="red")
    assert [i["patient_id"] for i in reds] == [fast.id]


async def test_a_snooze_mutes_the_same_yellow_but_a_red_breaks_through(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "heart_failure")
    for value in (105, 106, 107):
        await _post(client, patient, observation(patient.id, "8867-4", value))
    [item] = await queue_of(client, centre)
    until = datetime.now(UTC) + timedelta(hours=4)
    snoozed = await client.post(
        f"/api/queue/{item['id']}/snooze",
        json={"until": until.isoformat(), "reason": "known fast pulse, GP aware"},
        headers=_h(centre.nurse_token),
    )
    assert snoozed.json()["state"] == "snoozed"
    await _post(client, patient, observation(patient.id, "8867-4", 108))
    assert await queue_of(client, centre) == []
    await _post(client, patient, observation(patient.id, "8867-4", 140))
    [back] = await queue_of(client, centre)
    assert (back["id"], back["state"], back["severity"]) == (item["id"], "open", "red")
    muted = [f for f in back["findings"] if f["snoozed"]]
    assert [f["value"] for f in muted] == [108]


async def test_an_item_whose_values_return_to_range_stays_marked_back_in_range(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "heart_failure")
    await _post(client, patient, blood_pressure(patient.id, 185, 90))
    assert (await queue_of(client, centre))[0]["back_in_range"] is False
    response = await _post(client, patient, blood_pressure(patient.id, 135, 85))
    assert colour(response) == "green"
    [item] = await queue_of(client, centre)
    assert (item["state"], item["back_in_range"]) == ("open", True)


async def test_the_queue_is_the_centres_own(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    centre, patient = await _patient_with_plan(client, app, settings)
    await _post(client, patient, blood_pressure(patient.id, 185, 95))
    [item] = await queue_of(client, centre)
    stranger = await create_centre(app, settings)
    assert await queue_of(client, stranger) == []
    for method, path in (
        ("GET", f"/api/queue/{item['id']}"),
        ("POST", f"/api/queue/{item['id']}/claim"),
        ("GET", f"/api/queue/{item['id']}/history"),
    ):
        response = await client.request(method, path, headers=_h(stranger.nurse_token))
        assert response.status_code == 404, (method, path)
    as_patient = await client.get("/api/queue", headers=_h(patient.token))
    assert as_patient.status_code == 403
    assert (await queue_of(client, centre))[0]["state"] == "open"


async def test_the_reading_list_carries_each_readings_colour(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    _, patient = await _patient_with_plan(client, app, settings)
    await _post(client, patient, observation(patient.id, "8867-4", 70))
    red = await _post(client, patient, blood_pressure(patient.id, 185, 95))
    readings = await readings_of(client, patient)
    assert sorted(colour(r) or "" for r in readings) == ["green", "red"]
    one = await client.get(f"/fhir/Observation/{red['id']}", headers=patient.headers)
    assert colour(one.json()) == "red"
    again = await client.post(
        "/fhir/Observation",
        json=blood_pressure(patient.id, 185, 95, effective=red["effectiveDateTime"]),
        headers=patient.headers,
    )
    assert (again.status_code, colour(again.json())) == (200, "red")


async def test_working_the_queue_leaves_an_audit_trail_naming_the_patient(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    from tests.audit.helpers import audit_records, auditor_token

    centre, patient = await _patient_with_plan(client, app, settings)
    await _post(client, patient, blood_pressure(patient.id, 185, 95))
    [item] = await queue_of(client, centre)
    await client.post(f"/api/queue/{item['id']}/claim", headers=_h(centre.nurse_token))
    records = await audit_records(client, auditor_token(settings, centre), patient=patient.id)
    nurse = f"nurse-{centre.id}"
    seen = {(r["actor"], r["resource_type"], r["subtype"]) for r in records}
    assert {
        (nurse, "CarePlan", "update"),
        (nurse, "Task", "search-type"),
        (nurse, "Task", "claim"),
    } <= seen


async def test_an_escalation_keeps_to_whom_and_why_in_the_items_history(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    """The API asks why an item is escalated; the answer is part of the record and must
    not be dropped."""
    centre, patient = await _patient_with_plan(client, app, settings)
    await client.post(
        "/fhir/Observation", json=blood_pressure(patient.id, 185, 95), headers=patient.headers
    )
    item = (await queue_of(client, centre))[0]
    why = "Ingen svar på telefon to ganger, fastlegen må vurdere"
    answer = await client.post(
        f"/api/queue/{item['id']}/escalate",
        json={"to": "gp", "reason": why},
        headers=_h(centre.nurse_token),
    )
    assert answer.status_code == 200, answer.text
    history = await client.get(f"/api/queue/{item['id']}/history", headers=_h(centre.nurse_token))
    [escalated] = [e for e in history.json() if e["kind"] == "escalated"]
    assert escalated["detail"] == {"to": "gp", "reason": why}
