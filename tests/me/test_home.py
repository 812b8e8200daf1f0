"""The tablet's home screen through the real API, on both databases: what is due today
and done, the latest advice in colour, unread replies, and only the patient's own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from service.settings import Settings
from tests.factories import auth, create_centre, enrol, observation, set_care_plan
from tests.messages.test_messages_api import message
from tests.questionnaires.test_questionnaire_api import daily_copd

DAILY = {"every_hours": 24, "window_hours": 6, "grace_hours": 6}


async def _home(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/api/me/home", headers=auth(token))


def _tasks(home: dict[str, Any]) -> dict[str, tuple[str | None, bool]]:
    return {t["measurement"]: (t["form"], t["done"]) for t in home["tasks"]}


async def test_the_home_screen_follows_the_day(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "copd", schedule={"copd_more_breathless": DAILY})
    first = await _home(client, patient.token)
    assert first.status_code == 200, first.text
    assert _tasks(first.json()) == {
        "cat_score": ("copd-impact-weekly", False),
        "copd_more_breathless": ("copd-daily", False),
        "spo2": (None, False),
        # How the patient finds the follow-up: asked at enrolment, never triaged.
        "patient_experience": ("experience", False),
    }
    assert first.json()["advice"] is None
    assert first.json()["unread_messages"] == 0

    now = datetime.now(UTC) - timedelta(minutes=2)
    reading = observation(patient.id, "59408-5", 95, "%", effective=now)
    assert (
        await client.post("/fhir/Observation", json=reading, headers=patient.headers)
    ).status_code == 201
    answer = daily_copd(patient.id) | {"authored": now.isoformat()}
    posted = await client.post("/fhir/QuestionnaireResponse", json=answer, headers=patient.headers)
    assert posted.status_code == 201, posted.text
    reply = message(patient.id, "Fint, takk for målingen.")
    assert (
        await client.post("/fhir/Communication", json=reply, headers=auth(centre.nurse_token))
    ).status_code == 201

    home = (await _home(client, patient.token)).json()
    tasks = _tasks(home)
    # Whether the form was answered "today" depends on the hour in Oslo; the reading
    # taken two minutes ago is today unless the day turned since.
    assert tasks["cat_score"] == ("copd-impact-weekly", False)
    assert tasks["spo2"][1] or home["today"] != now.astimezone(UTC).date().isoformat()
    assert home["advice"]["colour"] == "green"
    assert home["advice"]["advice_nb"]
    assert home["unread_messages"] == 1
    [spo2] = [r for r in home["recent_readings"] if r["measurement"] == "spo2"]
    assert (spo2["value"], spo2["unit"]) == (95, "%")
    assert (spo2["original_value"], spo2["original_unit"]) == (95, "%")

    read = await client.post(f"/api/patients/{patient.id}/messages/read", headers=patient.headers)
    assert read.json() == {"marked": 1}
    assert (await _home(client, patient.token)).json()["unread_messages"] == 0


async def test_a_paused_patient_is_asked_for_nothing_and_told_why(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "copd")
    paused = await client.post(
        f"/api/patients/{patient.id}/status",
        json={"status": "paused", "reason": "innlagt"},
        headers=auth(centre.nurse_token),
    )
    assert paused.status_code == 200, paused.text
    reading = observation(patient.id, "59408-5", 84, "%")
    assert (
        await client.post("/fhir/Observation", json=reading, headers=patient.headers)
    ).status_code == 201
    home = (await _home(client, patient.token)).json()
    assert home["tasks"] == []
    assert home["follow_up"] == "paused"
    assert home["advice"]["colour"] is None  # nobody judges it now, and the patient is told
    assert "116 117" in home["advice"]["advice_nb"]


async def test_only_a_patient_reaches_their_own_home(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    me, other = await enrol(client, settings, centre), await enrol(client, settings, centre)
    reading = observation(other.id, "59408-5", 93, "%")
    assert (
        await client.post("/fhir/Observation", json=reading, headers=other.headers)
    ).status_code == 201
    mine = (await _home(client, me.token)).json()
    assert mine["patient_id"] == me.id
    assert mine["recent_readings"] == []
    for token in (centre.nurse_token, centre.admin_token):
        assert (await _home(client, token)).status_code == 403
    assert (await client.get("/api/me/home")).status_code == 401


async def test_the_advice_is_the_worst_of_the_latest_sitting_not_the_last_reading(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    """An oximeter sends SpO2 and pulse seconds apart: a red SpO2 must not be hidden
    behind the green pulse that arrived after it."""
    patient = await enrol(client, settings, await create_centre(app, settings))
    await set_care_plan(client, patient, "copd")
    taken = datetime.now(UTC) - timedelta(minutes=10)
    readings = [
        observation(patient.id, "59408-5", 84, "%", effective=taken.isoformat()),
        observation(
            patient.id,
            "8867-4",
            72,
            "/min",
            effective=(taken + timedelta(seconds=5)).isoformat(),
        ),
    ]
    for reading in readings:
        sent = await client.post("/fhir/Observation", json=reading, headers=patient.headers)
        assert sent.status_code == 201, sent.text
    advice = (await _home(client, patient.token)).json()["advice"]
    assert (advice["measurement"], advice["colour"]) == ("spo2", "red")
