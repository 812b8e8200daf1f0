"""Care plans as the nurse works them: versions with who and why, safety limits that
cannot be loosened, stale edits refused, and a preview that replays the patient's own
readings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.factories import (
    auth,
    blood_pressure,
    create_centre,
    enrol,
    observation,
    queue_of,
    set_care_plan,
)


async def _patient(client: httpx.AsyncClient, app: Any, settings: Any) -> Any:
    centre = await create_centre(app, settings)
    return await enrol(client, settings, centre)


async def test_every_change_is_a_version_with_who_and_why(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    patient = await _patient(client, app, settings)
    first = await set_care_plan(client, patient, "heart_failure", reason="start")
    second = await set_care_plan(
        client,
        patient,
        "heart_failure",
        reason="lives at 95-105 systolic on full medication",
        bands={"systolic": {"red_low": 90, "yellow_low": 92, "yellow_high": 150, "red_high": 180}},
    )
    assert (first["version"], second["version"]) == (1, 2)
    nurse = auth(patient.centre.nurse_token)
    current = (await client.get(f"/api/patients/{patient.id}/care-plan", headers=nurse)).json()
    assert current["version"] == 2
    assert current["effective_bands"]["systolic"]["yellow_low"] == 92
    assert current["changed_by"] == f"nurse-{patient.centre.id}"
    versions = (
        await client.get(f"/api/patients/{patient.id}/care-plan/versions", headers=nurse)
    ).json()
    assert [(v["version"], v["reason"]) for v in versions] == [
        (1, "start"),
        (2, "lives at 95-105 systolic on full medication"),
    ]
    old = await client.get(f"/api/patients/{patient.id}/care-plan/versions/1", headers=nurse)
    assert old.json()["bands"] == {}
    assert old.json()["effective_bands"]["systolic"]["yellow_low"] == 100


async def test_a_red_limit_looser_than_the_safety_limit_is_refused_by_name(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    patient = await _patient(client, app, settings)
    response = await client.put(
        f"/api/patients/{patient.id}/care-plan",
        json={
            "protocol": "heart_failure",
            "reason": "try",
            "bands": {"systolic": {"red_low": 80, "yellow_low": 95}},
        },
        headers=auth(patient.centre.nurse_token),
    )
    assert response.status_code == 400
    assert "bands.systolic.red_low" in response.json()["detail"]
    missing = await client.get(
        f"/api/patients/{patient.id}/care-plan", headers=auth(patient.centre.nurse_token)
    )
    assert missing.status_code == 404


async def test_unknown_protocol_measurement_and_disordered_band_are_refused(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    patient = await _patient(client, app, settings)
    url = f"/api/patients/{patient.id}/care-plan"
    headers = auth(patient.centre.nurse_token)
    for body in (
        {"protocol": "asthma", "reason": "x"},
        {"protocol": "copd", "reason": "x", "bands": {"cholesterol": {"red_high": 9}}},
        {"protocol": "copd", "reason": "x", "bands": {"spo2": {"red_low": 95, "yellow_low": 90}}},
        {"protocol": "copd", "reason": ""},
    ):
        response = await client.put(url, json=body, headers=headers)
        assert response.status_code in (400, 422), (body, response.text)


async def test_a_change_on_a_stale_copy_is_refused(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    patient = await _patient(client, app, settings)
    await set_care_plan(client, patient, "copd")
    await set_care_plan(client, patient, "copd", reason="colleague's change")
    response = await client.put(
        f"/api/patients/{patient.id}/care-plan",
        json={"protocol": "copd", "reason": "mine"},
        headers={**auth(patient.centre.nurse_token), "If-Match": 'W/"1"'},
    )
    assert response.status_code == 409
    assert "version 2" in response.json()["detail"]


async def test_the_patient_reads_their_plan_but_cannot_change_it(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    patient = await _patient(client, app, settings)
    await set_care_plan(client, patient, "hypertension")
    read = await client.get(f"/api/patients/{patient.id}/care-plan", headers=patient.headers)
    assert read.status_code == 200
    assert read.json()["protocol"] == "hypertension"
    write = await client.put(
        f"/api/patients/{patient.id}/care-plan",
        json={"protocol": "copd", "reason": "I prefer this"},
        headers=patient.headers,
    )
    assert write.status_code == 403


async def test_another_centre_sees_no_plan_at_all(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    patient = await _patient(client, app, settings)
    await set_care_plan(client, patient, "copd")
    stranger = await create_centre(app, settings)
    headers = auth(stranger.nurse_token)
    read = await client.get(f"/api/patients/{patient.id}/care-plan", headers=headers)
    write = await client.put(
        f"/api/patients/{patient.id}/care-plan",
        json={"protocol": "copd", "reason": "x"},
        headers=headers,
    )
    assert (read.status_code, write.status_code) == (404, 404)


async def test_preview_counts_what_the_last_days_would_have_raised(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    """Systolic 165 on each of five mornings: yellow under the heart-failure default
    (yellow above 159, after three in a row), nothing under a band up to 170."""
    patient = await _patient(client, app, settings)
    await set_care_plan(client, patient, "heart_failure")
    start = datetime.now(UTC) - timedelta(days=6)
    for day in range(5):
        when = (start + timedelta(days=day)).replace(hour=8, minute=0, second=0, microsecond=0)
        response = await client.post(
            "/fhir/Observation",
            json=blood_pressure(patient.id, 165, 80, effective=when),
            headers=patient.headers,
        )
        assert response.status_code == 201
    proposal = {
        "protocol": "heart_failure",
        "bands": {
            "systolic": {"red_low": 90, "yellow_low": 100, "yellow_high": 170, "red_high": 180}
        },
    }
    response = await client.post(
        f"/api/patients/{patient.id}/care-plan/preview",
        json=proposal,
        headers=auth(patient.centre.nurse_token),
    )
    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview["readings"] == 5
    # Days 3, 4 and 5 each complete a run of three deviating readings: one item a day.
    assert preview["current"]["items"] == {"yellow": 3, "red": 0}
    assert preview["current"]["findings_by_rule"] == {"threshold.high": 3}
    assert preview["proposed"]["items"] == {"yellow": 0, "red": 0}


async def test_a_paused_patient_raises_nothing_and_resuming_restarts(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    patient = await _patient(client, app, settings)
    await set_care_plan(client, patient, "heart_failure")
    url = f"/api/patients/{patient.id}/status"
    headers = auth(patient.centre.nurse_token)
    paused = await client.post(
        url, json={"status": "paused", "reason": "hospital"}, headers=headers
    )
    assert paused.json()["status"] == "paused"
    await client.post(
        "/fhir/Observation", json=observation(patient.id, "8867-4", 150), headers=patient.headers
    )
    assert await queue_of(client, patient.centre) == []
    resumed = await client.post(url, json={"status": "active", "reason": "home"}, headers=headers)
    assert resumed.json()["status"] == "active"
    assert resumed.json()["active_since"] is not None
    await client.post(
        "/fhir/Observation", json=observation(patient.id, "8867-4", 150), headers=patient.headers
    )
    assert [i["severity"] for i in await queue_of(client, patient.centre)] == ["red"]


async def test_readings_without_a_plan_raise_one_technical_item(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    patient = await _patient(client, app, settings)
    for value in (70, 72):
        await client.post(
            "/fhir/Observation",
            json=observation(patient.id, "8867-4", value),
            headers=patient.headers,
        )
    items = await queue_of(client, patient.centre)
    assert [(i["severity"], i["technical"]) for i in items] == [("yellow", True)]
    assert [f["rule"] for f in items[0]["findings"]] == ["careplan.missing"]


async def test_the_plan_as_fhir_is_a_valid_care_plan_with_goal_ranges(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    from fhir.resources.R4B.careplan import CarePlan

    patient = await _patient(client, app, settings)
    await set_care_plan(
        client,
        patient,
        "copd",
        bands={"spo2": {"red_low": 85, "yellow_low": 88}},
    )
    response = await client.get(
        "/fhir/CarePlan", params={"patient": patient.id}, headers=patient.headers
    )
    assert response.status_code == 200, response.text
    [entry] = response.json()["entry"]
    plan = entry["resource"]
    CarePlan.model_validate(plan)  # the R4 structure, contained Goals included
    goals = {g["id"]: g for g in plan["contained"]}
    spo2 = goals["goal-spo2"]["target"][0]
    assert spo2["measure"]["coding"][0]["code"] == "59408-5"
    assert spo2["detailRange"]["low"]["value"] == 88
    assert spo2["extension"][0]["valueRange"]["low"]["value"] == 85
    stranger = await create_centre(app, settings)
    hidden = await client.get(
        "/fhir/CarePlan", params={"patient": patient.id}, headers=auth(stranger.nurse_token)
    )
    assert hidden.json().get("entry", []) == []


async def test_personal_bands_are_proposed_from_the_trial_readings(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    """A COPD patient who lives at SpO2 88-90: the protocol's default would be yellow
    below 88; the proposal centres on the patient's own median (89)."""
    patient = await _patient(client, app, settings)
    trial_end = datetime.now(UTC) + timedelta(days=1)
    await set_care_plan(client, patient, "copd", trial_ends_at=trial_end.isoformat())
    url = f"/api/patients/{patient.id}/care-plan/proposed-bands"
    nurse = auth(patient.centre.nurse_token)
    empty = await client.get(url, headers=nurse)
    assert (empty.status_code, empty.json()["bands"]) == (200, {})
    start = datetime.now(UTC) - timedelta(days=9)
    for day, value in enumerate([89, 88, 90, 89, 89, 88, 90, 89]):
        when = start + timedelta(days=day)
        posted = await client.post(
            "/fhir/Observation",
            json=observation(patient.id, "59408-5", value, "%", effective=when),
            headers=patient.headers,
        )
        assert posted.status_code == 201, posted.text
    proposal = (await client.get(url, headers=nurse)).json()
    assert proposal["readings"] == 8
    spo2 = proposal["bands"]["spo2"]
    # Median 89, MAD 0.5 -> spread max(1.4826 x 0.5, 1.5) = 1.5; yellow_low 89 - 3 = 86.
    assert spo2["yellow_low"] == 86
    assert spo2.get("yellow_high") is None
    assert (await client.get(url, headers=patient.headers)).status_code == 403
