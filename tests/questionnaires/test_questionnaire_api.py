"""Forms and answers through the real API, on both databases: the forms are served, an
answer is checked against its form, stored once, searchable, and a scored form becomes a
survey Observation that triage judges like any reading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.factories import EnrolledPatient, auth, create_centre, enrol, queue_of, set_care_plan

BASE = "https://fhir.dho.example/Questionnaire/"
TRIAGE = "https://fhir.dho.example/StructureDefinition/triage-verdict"
WEEKLY = ("cough", "phlegm", "chest-tight", "stairs", "home-activities", "leaving-home")
WEEKLY_ALL = (*WEEKLY, "sleep", "energy")


def daily_copd(patient_id: str, *, breathless: bool = False, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": f"{BASE}copd-daily|1.0.0",
        "status": "completed",
        "subject": {"reference": f"Patient/{patient_id}"},
        "authored": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "item": [
            {"linkId": "breathless-more", "answer": [{"valueBoolean": breathless}]},
            {"linkId": "sputum-more", "answer": [{"valueBoolean": False}]},
            {"linkId": "reliever-more", "answer": [{"valueBoolean": False}]},
            {"linkId": "wellbeing", "answer": [{"valueInteger": 7}]},
        ],
        **extra,
    }


def response(
    form: str, patient_id: str, authored: datetime, items: list[dict[str, Any]]
) -> dict[str, Any]:
    """A completed answer to version 1.0.0 of ``form``."""
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": f"{BASE}{form}|1.0.0",
        "status": "completed",
        "subject": {"reference": f"Patient/{patient_id}"},
        "authored": authored.isoformat(),
        "item": items,
    }


def weekly_impact(patient_id: str, each: int, authored: datetime | None = None) -> dict[str, Any]:
    when = authored or datetime.now(UTC) - timedelta(minutes=5)
    items = [{"linkId": link, "answer": [{"valueInteger": each}]} for link in WEEKLY_ALL]
    return response("copd-impact-weekly", patient_id, when, items)


async def _patient(client: httpx.AsyncClient, app: Any, settings: Any) -> EnrolledPatient:
    return await enrol(client, settings, await create_centre(app, settings))


async def _post(client: httpx.AsyncClient, token: str, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/fhir/QuestionnaireResponse", json=body, headers=auth(token))


async def test_the_forms_are_served_in_bokmal_with_english(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    patient = await _patient(client, app, settings)
    listed = await client.get("/fhir/Questionnaire", headers=patient.headers)
    assert listed.status_code == 200, listed.text
    ids = {e["resource"]["id"] for e in listed.json()["entry"]}
    assert ids == {
        "copd-daily",
        "copd-impact-weekly",
        "diabetes-hypo",
        "heart-failure-daily",
        "experience",
    }
    form = (await client.get("/fhir/Questionnaire/copd-daily", headers=patient.headers)).json()
    assert form["url"] == f"{BASE}copd-daily"
    assert form["version"] == "1.0.0"
    assert form["language"] == "nb"
    first = form["item"][0]
    assert first["text"] == "Er du mer tungpusten enn vanlig i dag?"
    english = first["_text"]["extension"][0]["extension"][1]["valueString"]
    assert english == "Are you more breathless than usual today?"
    missing = await client.get("/fhir/Questionnaire/no-such-form", headers=patient.headers)
    assert missing.status_code == 404


async def test_an_answer_is_stored_verbatim_once_and_searchable(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    patient = await _patient(client, app, settings)
    body = daily_copd(patient.id, identifier={"system": "urn:tablet", "value": "r-1"})
    first = await _post(client, patient.token, body)
    assert first.status_code == 201, first.text
    again = await _post(client, patient.token, body)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    # Without an identifier, the content decides: a resend is still stored once.
    plain = daily_copd(patient.id, breathless=True)
    one = await _post(client, patient.token, plain)
    two = await _post(client, patient.token, plain)
    assert (one.status_code, two.status_code) == (201, 200)
    assert one.json()["id"] == two.json()["id"]
    read = await client.get(
        f"/fhir/QuestionnaireResponse/{one.json()['id']}", headers=patient.headers
    )
    assert read.json()["item"] == plain["item"]
    found = await client.get(
        "/fhir/QuestionnaireResponse",
        params={"patient": patient.id, "questionnaire": f"{BASE}copd-daily"},
        headers=patient.headers,
    )
    assert found.status_code == 200, found.text
    assert len(found.json()["entry"]) == 2
    later = await client.get(
        "/fhir/QuestionnaireResponse",
        params={"patient": patient.id, "authored": "ge2100-01-01"},
        headers=patient.headers,
    )
    assert later.json().get("entry", []) == []
    nurse = await client.get(
        "/fhir/QuestionnaireResponse",
        params={"patient": patient.id},
        headers=auth(patient.centre.nurse_token),
    )
    assert len(nurse.json()["entry"]) == 2


async def test_an_answer_that_does_not_fit_its_form_is_refused_naming_the_element(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    patient = await _patient(client, app, settings)
    base = daily_copd(patient.id)
    missing = {**base, "item": base["item"][1:]}
    wrong_type = {
        **base,
        "item": [{"linkId": "breathless-more", "answer": [{"valueInteger": 1}]}, *base["item"][1:]],
    }
    out_of_range = {
        **base,
        "item": [*base["item"][:3], {"linkId": "wellbeing", "answer": [{"valueInteger": 11}]}],
    }
    bad_option = {
        **base,
        "item": [
            *base["item"],
            {"linkId": "sputum-colour", "answer": [{"valueCoding": {"code": "purple"}}]},
        ],
    }
    unknown = {
        **base,
        "item": [*base["item"], {"linkId": "invented", "answer": [{"valueBoolean": True}]}],
    }
    no_form = {**base, "questionnaire": f"{BASE}copd-daily|9.9.9"}
    cases = [
        (missing, "QuestionnaireResponse.item.where(linkId='breathless-more')"),
        (wrong_type, "QuestionnaireResponse.item[0].answer[0]"),
        (out_of_range, "QuestionnaireResponse.item[3].answer[0].valueInteger"),
        (bad_option, "QuestionnaireResponse.item[4].answer[0].valueCoding"),
        (unknown, "QuestionnaireResponse.item[4].linkId"),
        (no_form, "QuestionnaireResponse.questionnaire"),
        ({**base, "status": "in-progress"}, "QuestionnaireResponse.status"),
    ]
    for body, expression in cases:
        response = await _post(client, patient.token, body)
        assert response.status_code == 422, (expression, response.text)
        assert response.json()["issue"][0]["expression"] == [expression]
    stored = await client.get(
        "/fhir/QuestionnaireResponse", params={"patient": patient.id}, headers=patient.headers
    )
    assert stored.json().get("entry", []) == []


async def test_a_weekly_score_is_a_survey_observation_triage_judges(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    patient = await _patient(client, app, settings)
    await set_care_plan(client, patient, "copd")
    low = await _post(client, patient.token, weekly_impact(patient.id, 1))
    assert low.status_code == 201, low.text
    verdict = next(e for e in low.json()["extension"] if e["url"] == TRIAGE)
    assert verdict["valueCodeableConcept"]["coding"][0]["code"] == "green"
    high = await _post(client, patient.token, weekly_impact(patient.id, 3))  # 24 > 20
    verdict = next(e for e in high.json()["extension"] if e["url"] == TRIAGE)
    assert verdict["valueCodeableConcept"]["coding"][0]["code"] == "yellow"
    readings = await client.get(
        "/fhir/Observation", params={"patient": patient.id}, headers=patient.headers
    )
    scores = [e["resource"] for e in readings.json()["entry"]]
    assert sorted(s["valueQuantity"]["value"] for s in scores) == [8, 24]
    newest = next(s for s in scores if s["valueQuantity"]["value"] == 24)
    assert newest["category"][0]["coding"][0]["code"] == "survey"
    assert newest["derivedFrom"] == [{"reference": f"QuestionnaireResponse/{high.json()['id']}"}]
    items = await queue_of(client, patient.centre)
    mine = [i for i in items if i["patient_id"] == patient.id]
    assert len(mine) == 1
    assert mine[0]["severity"] == "yellow"
    # A resend gives the same verdict and stores neither the answer nor the score again.
    again = await _post(
        client,
        patient.token,
        weekly_impact(patient.id, 3, None) | {"authored": high.json()["authored"]},
    )
    assert again.status_code == 200
    readings = await client.get(
        "/fhir/Observation", params={"patient": patient.id}, headers=patient.headers
    )
    assert len(readings.json()["entry"]) == 2


async def test_a_paused_patient_gets_not_triaged_on_a_score(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    patient = await _patient(client, app, settings)
    response = await _post(client, patient.token, weekly_impact(patient.id, 4))
    assert response.status_code == 201, response.text
    verdict = next(e for e in response.json()["extension"] if e["url"] == TRIAGE)
    assert verdict["valueCodeableConcept"]["coding"][0]["code"] == "not-triaged"


async def test_more_breathless_two_days_running_raises_the_item_with_the_answer_in_words(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    patient = await _patient(client, app, settings)
    await set_care_plan(client, patient, "copd")
    now = datetime.now(UTC)

    async def answer(breathless: bool, days_ago: float) -> str:
        body = daily_copd(patient.id, breathless=breathless)
        body["authored"] = (now - timedelta(days=days_ago)).isoformat()
        response = await _post(client, patient.token, body)
        assert response.status_code == 201, response.text
        verdict = next(e for e in response.json()["extension"] if e["url"] == TRIAGE)
        code: str = verdict["valueCodeableConcept"]["coding"][0]["code"]
        return code

    # A yes, then a no: no run. A yes alone waits for the second day.
    assert await answer(True, 3) == "green"
    assert await answer(False, 2) == "green"
    assert await answer(True, 1) == "green"
    assert [
        i for i in await queue_of(client, patient.centre) if i["patient_id"] == patient.id
    ] == []
    assert await answer(True, 0.01) == "yellow"
    [item] = [i for i in await queue_of(client, patient.centre) if i["patient_id"] == patient.id]
    assert item["severity"] == "yellow"
    detail = await client.get(f"/api/queue/{item['id']}", headers=auth(patient.centre.nurse_token))
    [finding] = detail.json()["findings"]
    assert finding["reason_nb"] == (
        "Pasienten svarte ja på «Er du mer tungpusten enn vanlig i dag?» (2 dager på rad)"
    )


async def test_answers_page_by_cursor_newest_first_each_answer_once(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    patient = await _patient(client, app, settings)
    now = datetime.now(UTC)
    for day in range(5):
        body = daily_copd(patient.id)
        body["authored"] = (now - timedelta(days=day, minutes=5)).isoformat()
        assert (await _post(client, patient.token, body)).status_code == 201
    seen: list[str] = []
    params: dict[str, str] = {"patient": patient.id, "_count": "2"}
    for _ in range(4):
        page = await client.get(
            "/fhir/QuestionnaireResponse", params=params, headers=patient.headers
        )
        assert page.status_code == 200, page.text
        seen += [e["resource"]["authored"] for e in page.json().get("entry", [])]
        following = [link for link in page.json()["link"] if link["relation"] == "next"]
        if not following:
            break
        params = dict(httpx.URL(following[0]["url"]).params)
    assert len(seen) == 5
    assert seen == sorted(seen, reverse=True)
    bad = await client.get(
        "/fhir/QuestionnaireResponse",
        params={"patient": patient.id, "_cursor": "not-a-cursor"},
        headers=patient.headers,
    )
    assert bad.status_code == 400
    assert bad.json()["issue"][0]["expression"] == ["_cursor"]
