"""The patient's tablet page, as a plain-HTML browser uses it (no script): the login,
today's tasks, a reading typed by hand, a form answered and sent, messages. What the
patient sends goes through the API's own services, so the centre's queue shows it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from service.settings import Settings
from tests.console.helpers import hidden_fields
from tests.factories import (
    EnrolledPatient,
    auth,
    create_centre,
    enrol,
    queue_of,
    readings_of,
    set_care_plan,
)
from tests.tablet.helpers import tablet, tablet_session


async def _answers_of(client: httpx.AsyncClient, patient: EnrolledPatient) -> list[Any]:
    """The patient's stored answers to forms, as the patient reads them."""
    found = await client.get(
        "/fhir/QuestionnaireResponse", params={"patient": patient.id}, headers=patient.headers
    )
    entries: list[Any] = found.json()["entry"]
    return entries


async def test_without_a_session_the_tablet_asks_for_a_login(app: Any) -> None:
    async with tablet(app) as browser:
        for path in ("/me", "/me/reading/spo2", "/me/form/copd-daily", "/me/messages"):
            answer = await browser.get(path)
            assert answer.status_code == 303
            assert answer.headers["location"] == "/me/login"
        login = await browser.get("/me/login")
        assert "Logg inn" in login.text


async def test_the_development_login_lists_the_patients_and_opens_their_day(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    async with tablet(app) as browser:
        start = await browser.get("/me/login/start")
        assert start.status_code == 303
        listing = await browser.get(start.headers["location"])
        assert listing.status_code == 200
        assert f'value="{patient.id}"' in listing.text  # the demo's patients, to choose
        chosen = await browser.post(
            "/dev-issuer/authorize", data={**hidden_fields(listing.text), "user": patient.id}
        )
        assert chosen.status_code == 303
        callback = await browser.get(chosen.headers["location"])
        assert callback.status_code == 303
        assert callback.headers["location"] == "/me"
        home = await browser.get("/me")
        assert home.status_code == 200
        assert "I dag" in home.text


async def test_a_nurse_token_does_not_open_the_tablet(app: Any, settings: Settings) -> None:
    from service.auth.principal import Role

    nurse = tablet_session(settings, "nurse-1", role=Role.nurse)
    async with tablet(app, nurse) as browser:
        answer = await browser.get("/me")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/me/login"


async def test_todays_tasks_follow_the_care_plan_and_link_to_their_pages(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    await set_care_plan(
        client,
        patient,
        "copd",
        schedule={"copd_more_breathless": {"every_hours": 24, "window_hours": 6}},
    )
    async with tablet(app, tablet_session(settings, patient.id)) as browser:
        home = (await browser.get("/me")).text
    assert 'href="/me/form/copd-daily"' in home  # the daily form the plan asks for
    assert 'href="/me/form/copd-impact-weekly"' in home  # the weekly impact form
    assert 'href="/me/reading/spo2"' in home  # the oximeter, typed by hand if need be
    assert 'href="/me/form/experience"' in home  # asked at enrolment
    assert home.count("Ikke gjort ennå") == 4


async def test_a_reading_typed_by_hand_is_checked_in_plain_words_and_stored_once(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "hypertension")
    async with tablet(app, tablet_session(settings, patient.id)) as browser:
        page = await browser.get("/me/reading/blood_pressure")
        form = hidden_fields(page.text)
        assert len(form["key"]) >= 8

        wrong = await browser.post(
            "/me/reading/blood_pressure", data={**form, "systolic": "1860", "diastolic": "104"}
        )
        assert wrong.status_code == 422
        assert "Tallet må være mellom 40 og 300" in wrong.text  # the catalogue's range
        assert 'href="#systolic"' in wrong.text  # the summary links to the field
        assert await readings_of(client, patient) == []

        typo = await browser.post(
            "/me/reading/blood_pressure", data={**form, "systolic": "18o", "diastolic": ""}
        )
        assert typo.status_code == 422
        assert "Skriv bare tallet" in typo.text
        assert "Skriv inn tallet" in typo.text

        sent = await browser.post(
            "/me/reading/blood_pressure", data={**form, "systolic": "186", "diastolic": "104"}
        )
        assert sent.status_code == 200
        assert "Rødt" in sent.text  # the advice after sending, with its colour in words
        again = await browser.post(
            "/me/reading/blood_pressure", data={**form, "systolic": "186", "diastolic": "104"}
        )
        assert again.status_code == 200  # a double tap, or a resend after a lost answer
    [stored] = await readings_of(client, patient)
    values = [c["valueQuantity"]["value"] for c in stored["component"]]
    assert values == [186, 104]
    [item] = [i for i in await queue_of(client, centre) if i["patient_id"] == patient.id]
    assert item["severity"] == "red"


async def test_a_decimal_comma_is_a_decimal(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    async with tablet(app, tablet_session(settings, patient.id)) as browser:
        form = hidden_fields((await browser.get("/me/reading/body_weight")).text)
        sent = await browser.post("/me/reading/body_weight", data={**form, "body_weight": "82,4"})
        assert sent.status_code == 200, sent.text
    [stored] = await readings_of(client, patient)
    assert stored["valueQuantity"]["value"] == 82.4


def _daily(form: dict[str, str], breathless: str, when: datetime) -> dict[str, str]:
    return {
        **form,
        "taken_at": when.isoformat(),
        "a.breathless-more": breathless,
        "a.sputum-more": "no",
        "a.reliever-more": "no",
        "a.wellbeing": "6",
    }


async def test_the_daily_form_answered_twice_with_yes_raises_the_item_in_words(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "copd")
    now = datetime.now(UTC)
    async with tablet(app, tablet_session(settings, patient.id)) as browser:
        page = await browser.get("/me/form/copd-daily")
        assert page.status_code == 200
        assert "Er du mer tungpusten enn vanlig i dag?" in page.text
        assert len(re.findall(r'<fieldset class="question', page.text)) == 5

        missing = {**hidden_fields(page.text), "a.sputum-more": "no"}
        refused = await browser.post("/me/form/copd-daily", data=missing)
        assert refused.status_code == 422
        assert "Velg et svar før du går videre." in refused.text

        yesterday = _daily(hidden_fields(page.text), "yes", now - timedelta(days=1))
        first = await browser.post("/me/form/copd-daily", data=yesterday)
        assert first.status_code == 200
        assert "Grønt" in first.text
        today = _daily(hidden_fields((await browser.get("/me/form/copd-daily")).text), "yes", now)
        second = await browser.post("/me/form/copd-daily", data=today)
        assert second.status_code == 200
        assert "Gult" in second.text
    [item] = [i for i in await queue_of(client, centre) if i["patient_id"] == patient.id]
    detail = await client.get(f"/api/queue/{item['id']}", headers=auth(centre.nurse_token))
    [finding] = detail.json()["findings"]
    assert "«Er du mer tungpusten enn vanlig i dag?» (2 dager på rad)" in finding["reason_nb"]
    assert len(await _answers_of(client, patient)) == 2


async def test_a_form_resent_with_its_key_is_stored_once(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    async with tablet(app, tablet_session(settings, patient.id)) as browser:
        form = hidden_fields((await browser.get("/me/form/copd-daily")).text)
        answers = _daily(form, "no", datetime.now(UTC) - timedelta(minutes=5))
        for _ in range(2):
            assert (await browser.post("/me/form/copd-daily", data=answers)).status_code == 200
    assert len(await _answers_of(client, patient)) == 1


async def test_the_experience_form_is_asked_at_enrolment_and_raises_nothing(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "copd")
    async with tablet(app, tablet_session(settings, patient.id)) as browser:
        page = await browser.get("/me/form/experience")
        assert "Hvordan opplever du oppfølgingen?" in page.text
        answers = {
            **hidden_fields(page.text),
            "a.security": "1",
            "a.coping": "2",
            "a.ease-of-use": "5",
            "a.recommend": "4",
        }
        sent = await browser.post("/me/form/experience", data=answers)
        assert sent.status_code == 200
        assert "Svarene er sendt" in sent.text
        assert "advice-" not in sent.text  # no colour: experience is not a symptom
        home = await browser.get("/me")
    done = home.text[home.text.index('href="/me/form/experience"') :].split("</li>")[0]
    assert "Gjort" in done
    assert [i for i in await queue_of(client, centre) if i["patient_id"] == patient.id] == []


async def test_messages_are_written_read_and_answered(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    async with tablet(app, tablet_session(settings, patient.id)) as browser:
        page = await browser.get("/me/messages")
        form = {**hidden_fields(page.text), "text": "Jeg er mer tungpusten i dag."}
        empty = await browser.post("/me/messages", data={**form, "text": "  "})
        assert empty.status_code == 422
        assert "Skriv noe før du sender." in empty.text
        for _ in range(2):  # a resend of the same form is one message
            sent = await browser.post("/me/messages", data=form)
            assert sent.status_code == 303
            assert sent.headers["location"] == "/me/messages?sent=true"
        waiting = await client.get("/api/messages/waiting", headers=auth(centre.nurse_token))
        assert [w["patient_id"] for w in waiting.json()] == [patient.id]
        reply = {
            "resourceType": "Communication",
            "status": "completed",
            "subject": {"reference": f"Patient/{patient.id}"},
            "payload": [{"contentString": "Vi ringer deg i formiddag."}],
        }
        answered = await client.post(
            "/fhir/Communication", json=reply, headers=auth(centre.nurse_token)
        )
        assert answered.status_code == 201
        home = await browser.get("/me")
        assert "1 nye fra oppfølgingstjenesten" in home.text
        thread = await browser.get("/me/messages")
        assert thread.text.count("Jeg er mer tungpusten i dag.") == 1
        assert "Vi ringer deg i formiddag." in thread.text
        home = await browser.get("/me")
        assert "Les og skriv meldinger" in home.text  # read now: nothing new
