"""Retracting a reading sent in error: ``PUT /fhir/Observation/{id}`` to status
entered-in-error, versioned and audited; triage withdraws what rested on it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from service.auth.dev_issuer import mint_token
from service.auth.principal import Role
from service.queue.repository import finding as finding_table
from service.settings import Settings
from tests.audit.helpers import auditor_token, new_request_id, records_of_request, with_request_id
from tests.factories import (
    Centre,
    EnrolledPatient,
    auth,
    blood_pressure,
    create_centre,
    enrol,
    observation,
    queue_of,
    readings_of,
    set_care_plan,
)

TRIAGE = "https://fhir.dho.example/CodeSystem/triage-colour"
NOW = datetime.now(UTC).replace(microsecond=0)


async def _patient(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> tuple[Centre, EnrolledPatient]:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "heart_failure")
    return centre, patient


async def _post(
    client: httpx.AsyncClient, patient: EnrolledPatient, resource: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post("/fhir/Observation", json=resource, headers=patient.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _read(client: httpx.AsyncClient, token: str, observation_id: str) -> dict[str, Any]:
    response = await client.get(f"/fhir/Observation/{observation_id}", headers=auth(token))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _retraction_of(resource: dict[str, Any]) -> dict[str, Any]:
    """What a client sends: the reading as read, with only its status changed."""
    return {**resource, "status": "entered-in-error"}


async def _retract(
    client: httpx.AsyncClient,
    token: str,
    observation_id: str,
    *,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    if body is None:
        body = _retraction_of(await _read(client, token, observation_id))
    return await client.put(
        f"/fhir/Observation/{observation_id}",
        json=body,
        headers={**auth(token), **(headers or {})},
    )


def _colour(resource: dict[str, Any]) -> str | None:
    for concept in resource.get("interpretation", []):
        for coding in concept.get("coding", []):
            if coding["system"] == TRIAGE and coding["code"] != "critical":
                return str(coding["code"])
    return None


async def _item(client: httpx.AsyncClient, centre: Centre, item_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/queue/{item_id}", headers=auth(centre.nurse_token))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _history(client: httpx.AsyncClient, centre: Centre, item_id: str) -> list[Any]:
    response = await client.get(f"/api/queue/{item_id}/history", headers=auth(centre.nurse_token))
    assert response.status_code == 200, response.text
    return [(e["kind"], e["severity"], e["actor"]) for e in response.json()]


async def test_a_nurse_retracts_a_red_reading_the_item_goes_and_the_history_shows_it(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre, patient = await _patient(client, app, settings)
    red = await _post(client, patient, blood_pressure(patient.id, 185, 95))
    [item] = await queue_of(client, centre)
    assert item["severity"] == "red"
    request_id = new_request_id()

    response = await _retract(
        client,
        centre.nurse_token,
        red["id"],
        headers=with_request_id({"If-Match": 'W/"1"'}, request_id),
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["meta"]["versionId"]) == ("entered-in-error", "2")
    assert response.headers["ETag"] == 'W/"2"'
    assert _colour(body) is None  # a reading in error has no colour
    assert await queue_of(client, centre) == []
    closed = await _item(client, centre, item["id"])
    assert (closed["state"], closed["outcome"]) == ("resolved", "withdrawn")
    assert closed["findings"]
    assert all(f["withdrawn_at"] is not None for f in closed["findings"])
    assert (await _history(client, centre, item["id"]))[-1] == (
        "withdrawn",
        "red",
        f"nurse-{centre.id}",
    )
    # The current version, and the earlier one kept.
    current = await _read(client, patient.token, red["id"])
    assert (current["status"], current["meta"]["versionId"]) == ("entered-in-error", "2")
    assert current["component"] == red["component"]
    first = await client.get(f"/fhir/Observation/{red['id']}/_history/1", headers=patient.headers)
    assert first.status_code == 200, first.text
    assert (first.json()["status"], first.json()["meta"]["versionId"]) == ("final", "1")
    missing = await client.get(f"/fhir/Observation/{red['id']}/_history/3", headers=patient.headers)
    assert missing.status_code == 404
    # A version no column could hold is as missing, not a database error.
    huge = await client.get(
        f"/fhir/Observation/{red['id']}/_history/{2**96}", headers=patient.headers
    )
    assert huge.status_code == 404
    assert huge.json()["resourceType"] == "OperationOutcome"
    # Audited as an update, in the request that made it.
    [record] = await records_of_request(client, auditor_token(settings, centre), request_id)
    assert (record["action"], record["subtype"], record["resource_id"], record["outcome"]) == (
        "U",
        "update",
        red["id"],
        "success",
    )
    assert (record["patient_id"], record["actor"]) == (patient.id, f"nurse-{centre.id}")


async def test_search_leaves_retracted_readings_out_unless_their_status_is_asked_for(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    _, patient = await _patient(client, app, settings)
    kept = await _post(client, patient, observation(patient.id, value=70))
    wrong = await _post(client, patient, observation(patient.id, value=71))
    assert (await _retract(client, patient.token, wrong["id"])).status_code == 200

    assert [r["id"] for r in await readings_of(client, patient)] == [kept["id"]]
    search = await client.get(
        "/fhir/Observation",
        params={"patient": patient.id, "status": "entered-in-error"},
        headers=patient.headers,
    )
    assert [e["resource"]["id"] for e in search.json()["entry"]] == [wrong["id"]]
    both = await client.get(
        "/fhir/Observation",
        params={"patient": patient.id, "status": "final,entered-in-error", "_sort": "date"},
        headers=patient.headers,
    )
    assert {e["resource"]["id"] for e in both.json()["entry"]} == {kept["id"], wrong["id"]}
    bad = await client.get(
        "/fhir/Observation", params={"status": "withdrawn"}, headers=patient.headers
    )
    assert bad.status_code == 400
    assert bad.json()["issue"][0]["expression"] == ["status"]


async def test_a_patient_retracts_their_own_reading_and_a_repeat_changes_nothing(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    _, patient = await _patient(client, app, settings)
    reading = await _post(client, patient, observation(patient.id, value=72))
    first = await _retract(client, patient.token, reading["id"])
    assert first.status_code == 200, first.text
    again = await _retract(client, patient.token, reading["id"], body=first.json())
    assert again.status_code == 200, again.text
    assert again.json()["meta"]["versionId"] == "2"
    # The device sending the reading again gets the stored one: still retracted, no colour.
    sent = {k: v for k, v in reading.items() if k not in ("id", "meta", "interpretation")}
    repeat = await client.post("/fhir/Observation", json=sent, headers=patient.headers)
    assert repeat.status_code == 200, repeat.text
    assert (repeat.json()["status"], _colour(repeat.json())) == ("entered-in-error", None)


async def test_the_gateway_of_the_centre_retracts_a_reading(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre, patient = await _patient(client, app, settings)
    reading = await _post(client, patient, observation(patient.id, value=73))
    gateway = mint_token(settings, role=Role.system, subject="gateway-1", centres=[centre.id])
    response = await _retract(client, gateway, reading["id"])
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "entered-in-error"


async def test_another_patient_and_a_nurse_of_another_centre_get_404_and_nothing_changes(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre, patient = await _patient(client, app, settings)
    red = await _post(client, patient, blood_pressure(patient.id, 185, 95))
    body = _retraction_of(await _read(client, patient.token, red["id"]))
    stranger = await enrol(client, settings, centre)
    elsewhere = await create_centre(app, settings)

    for token in (stranger.token, elsewhere.nurse_token):
        response = await _retract(client, token, red["id"], body=body)
        assert response.status_code == 404, response.text
        assert response.json()["issue"][0]["code"] == "not-found"
    made_up = await _retract(client, patient.token, "no-such-reading", body=body)
    assert made_up.status_code == 404

    current = await _read(client, patient.token, red["id"])
    assert (current["status"], current["meta"]["versionId"]) == ("final", "1")
    assert [i["severity"] for i in await queue_of(client, centre)] == ["red"]


async def test_a_stale_if_match_gets_412_and_changes_nothing(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre, patient = await _patient(client, app, settings)
    red = await _post(client, patient, blood_pressure(patient.id, 185, 95))
    ahead = await _retract(client, patient.token, red["id"], headers={"If-Match": 'W/"7"'})
    assert ahead.status_code == 412, ahead.text
    assert ahead.json()["resourceType"] == "OperationOutcome"
    assert (await _read(client, patient.token, red["id"]))["meta"]["versionId"] == "1"
    assert [i["severity"] for i in await queue_of(client, centre)] == ["red"]

    body = _retraction_of(await _read(client, patient.token, red["id"]))
    assert (await _retract(client, centre.nurse_token, red["id"], body=body)).status_code == 200
    stale = await _retract(
        client, patient.token, red["id"], body=body, headers={"If-Match": 'W/"1"'}
    )
    assert stale.status_code == 412, stale.text


async def test_changing_anything_but_the_status_is_refused_and_nothing_changes(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre, patient = await _patient(client, app, settings)
    reading = await _post(client, patient, observation(patient.id, "8867-4", 140))
    stored = await _read(client, centre.nurse_token, reading["id"])
    lowered = _retraction_of(stored)
    lowered["valueQuantity"] = {**stored["valueQuantity"], "value": 70}
    amended = {**stored, "status": "amended"}
    moved = {**_retraction_of(stored), "effectiveDateTime": NOW.isoformat()}
    other_id = {**_retraction_of(stored), "id": "another"}
    cases = [
        (lowered, 422, "Observation.valueQuantity"),
        ({**stored, "valueQuantity": lowered["valueQuantity"]}, 422, "Observation.status"),
        (amended, 422, "Observation.status"),
        (moved, 422, "Observation.effectiveDateTime"),
        (other_id, 400, "Observation.id"),
        ({"resourceType": "Patient", "id": reading["id"]}, 400, "Observation"),
    ]
    for body, status, expression in cases:
        response = await _retract(client, centre.nurse_token, reading["id"], body=body)
        assert response.status_code == status, (expression, response.text)
        assert response.json()["issue"][0]["expression"] == [expression]

    after = await _read(client, centre.nurse_token, reading["id"])
    assert after == stored
    assert [i["severity"] for i in await queue_of(client, centre)] == ["red"]


async def test_retracting_the_red_leaves_the_yellow_that_stands_on_other_readings(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    """Heart failure: a pulse above 100 is yellow after three in a row."""
    centre, patient = await _patient(client, app, settings)
    for minutes, pulse in ((40, 105), (30, 106), (20, 107)):
        when = NOW - timedelta(minutes=minutes)
        await _post(client, patient, observation(patient.id, "8867-4", pulse, effective=when))
    red = await _post(
        client, patient, blood_pressure(patient.id, 185, 95, effective=NOW - timedelta(minutes=10))
    )
    [item] = await queue_of(client, centre)
    assert item["severity"] == "red"

    assert (await _retract(client, centre.nurse_token, red["id"])).status_code == 200

    [lowered] = await queue_of(client, centre)
    assert (lowered["id"], lowered["severity"], lowered["critical"]) == (
        item["id"],
        "yellow",
        False,
    )
    standing = [f["rule"] for f in lowered["findings"] if f["withdrawn_at"] is None]
    assert standing == ["threshold.high"]
    assert {f["measurement"] for f in lowered["findings"] if f["withdrawn_at"]} == {"systolic"}
    assert (await _history(client, centre, item["id"]))[-1][:2] == ("lowered", "yellow")


async def test_a_run_of_three_falls_with_one_of_its_readings_and_a_longer_run_stands(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    """Pulses 105, 106, 107, 108: yellow on the third (a run of three) and on the fourth
    (a run of four). Retracting the first: the third's run, as judged then, is two and
    falls; the fourth's is three and stands."""
    centre, patient = await _patient(client, app, settings)
    posted = [
        await _post(
            client,
            patient,
            observation(patient.id, "8867-4", pulse, effective=NOW - timedelta(minutes=minutes)),
        )
        for minutes, pulse in ((40, 105), (30, 106), (20, 107), (10, 108))
    ]
    [item] = await queue_of(client, centre)
    assert [f["observation_id"] for f in item["findings"]] == [posted[2]["id"], posted[3]["id"]]

    assert (await _retract(client, patient.token, posted[0]["id"])).status_code == 200

    [after] = await queue_of(client, centre)
    assert (after["id"], after["severity"]) == (item["id"], "yellow")
    withdrawn = {f["observation_id"]: f["withdrawn_at"] is not None for f in after["findings"]}
    assert withdrawn == {posted[2]["id"]: True, posted[3]["id"]: False}
    assert (await _history(client, centre, item["id"]))[-1][:2] == ("retracted", "yellow")
    # The standing finding's evidence is the readings that remain.
    async with app.state.dho.engine.connect() as conn:
        evidence = (
            await conn.execute(
                sa.select(finding_table.c.reading_ids).where(
                    finding_table.c.observation_id == posted[3]["id"],
                    finding_table.c.withdrawn_at.is_(None),
                )
            )
        ).scalar_one()
    assert sorted(evidence) == sorted(p["id"] for p in posted[1:])
    # The third reading's own colour follows what stands on it now.
    third = await _read(client, patient.token, posted[2]["id"])
    assert _colour(third) == "green"
    assert _colour(await _read(client, patient.token, posted[3]["id"])) == "yellow"

    # The second goes too: the fourth's run is two, and nothing is left for the item.
    assert (await _retract(client, patient.token, posted[1]["id"])).status_code == 200
    assert await queue_of(client, centre) == []
    assert (await _item(client, centre, item["id"]))["outcome"] == "withdrawn"


def _bundle(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


async def test_a_transaction_retracts_with_a_put_entry_beside_a_new_reading(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre, patient = await _patient(client, app, settings)
    red = await _post(client, patient, blood_pressure(patient.id, 185, 95))
    stored = await _read(client, patient.token, red["id"])
    request_id = new_request_id()
    bundle = _bundle(
        {
            "resource": _retraction_of(stored),
            "request": {"method": "PUT", "url": f"Observation/{red['id']}", "ifMatch": 'W/"1"'},
        },
        {
            "resource": observation(patient.id, value=70),
            "request": {"method": "POST", "url": "Observation"},
        },
    )
    response = await client.post(
        "/fhir", json=bundle, headers=with_request_id(patient.headers, request_id)
    )
    assert response.status_code == 200, response.text
    answers = [e["response"] for e in response.json()["entry"]]
    assert answers[0]["status"] == "200 OK"
    assert answers[0]["location"] == f"Observation/{red['id']}/_history/2"
    assert answers[1]["status"] == "201 Created"
    assert (await _read(client, patient.token, red["id"]))["status"] == "entered-in-error"
    assert await queue_of(client, centre) == []
    records = await records_of_request(client, auditor_token(settings, centre), request_id)
    assert ("U", "update", red["id"]) in {
        (r["action"], r["subtype"], r["resource_id"]) for r in records
    }


async def test_a_transaction_whose_put_entry_changes_a_value_stores_nothing(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre, patient = await _patient(client, app, settings)
    red = await _post(client, patient, blood_pressure(patient.id, 185, 95))
    changed = _retraction_of(await _read(client, patient.token, red["id"]))
    changed["component"][0]["valueQuantity"]["value"] = 120
    bundle = _bundle(
        {
            "resource": observation(patient.id, value=70),
            "request": {"method": "POST", "url": "Observation"},
        },
        {"resource": changed, "request": {"method": "PUT", "url": f"Observation/{red['id']}"}},
    )
    response = await client.post("/fhir", json=bundle, headers=patient.headers)
    assert response.status_code == 422, response.text
    assert response.json()["issue"][0]["expression"] == ["Bundle.entry[1].resource.component"]
    assert [r["id"] for r in await readings_of(client, patient)] == [red["id"]]
    assert (await _read(client, patient.token, red["id"]))["meta"]["versionId"] == "1"
    assert [i["severity"] for i in await queue_of(client, centre)] == ["red"]


async def test_a_batch_answers_a_refused_put_entry_and_stores_the_rest(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    _, patient = await _patient(client, app, settings)
    reading = await _post(client, patient, observation(patient.id, value=75))
    stale = {
        "resource": _retraction_of(await _read(client, patient.token, reading["id"])),
        "request": {"method": "PUT", "url": f"Observation/{reading['id']}", "ifMatch": 'W/"5"'},
    }
    new = {
        "resource": observation(patient.id, value=76),
        "request": {"method": "POST", "url": "Observation"},
    }
    bundle = {**_bundle(stale, new), "type": "batch"}
    response = await client.post("/fhir", json=bundle, headers=patient.headers)
    assert response.status_code == 200, response.text
    answers = [e["response"]["status"] for e in response.json()["entry"]]
    assert answers == ["412 Precondition Failed", "201 Created"]
    assert (await _read(client, patient.token, reading["id"]))["status"] == "final"
    assert len(await readings_of(client, patient)) == 2
