"""Hostile requests to the tablet page: every route answers the patient's own data only
(the patient is the token's subject, never a field), refuses a form without its CSRF
token, and answers odd input with a page, never a 500 and never a half-stored row."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from service.settings import Settings
from tests.console.helpers import hidden_fields
from tests.factories import create_centre, enrol, readings_of
from tests.tablet.helpers import tablet, tablet_session

POSTS = ["/me/reading/spo2", "/me/form/copd-daily", "/me/messages", "/me/logout"]


@pytest.mark.parametrize("path", POSTS)
async def test_a_post_without_the_sessions_csrf_token_is_refused(
    app: Any, client: httpx.AsyncClient, settings: Settings, path: str
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    async with tablet(app, tablet_session(settings, patient.id)) as browser:
        answer = await browser.post(path, data={"csrf": "forged", "spo2": "95", "text": "hei"})
    assert answer.status_code == 403
    assert "Skjemaet kunne ikke sendes" in answer.text
    assert await readings_of(client, patient) == []


async def test_a_reading_cannot_be_sent_for_another_patient(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    mine, other = await enrol(client, settings, centre), await enrol(client, settings, centre)
    async with tablet(app, tablet_session(settings, mine.id)) as browser:
        form = hidden_fields((await browser.get("/me/reading/spo2")).text)
        sent = await browser.post(
            "/me/reading/spo2",
            data={**form, "spo2": "95", "patient": other.id, "subject": f"Patient/{other.id}"},
        )
        assert sent.status_code == 200
    assert len(await readings_of(client, mine)) == 1
    assert await readings_of(client, other) == []


@pytest.mark.parametrize(
    ("path", "fields", "status"),
    [
        ("/me/reading/respiratory_rate", {"respiratory_rate": "12"}, 404),
        ("/me/reading/%2E%2E%2Fmessages", {}, 404),
        ("/me/form/no-such-form", {}, 404),
        ("/me/reading/spo2", {"spo2": "9" * 5000}, 422),
        ("/me/reading/spo2", {"spo2": "nan"}, 422),
        ("/me/reading/spo2", {"spo2": "1e308"}, 422),
        ("/me/reading/spo2", {"spo2": "95", "key": "'; drop table x;--"}, 200),
        ("/me/reading/spo2", {"spo2": "95", "taken_at": "2999-01-01T00:00:00+00:00"}, 422),
        ("/me/form/copd-daily", {"a.breathless-more": "maybe", "a.wellbeing": "99"}, 422),
        ("/me/messages", {"text": "x" * 100_000}, 422),
    ],
)
async def test_odd_input_gets_a_page_never_a_500(
    app: Any,
    client: httpx.AsyncClient,
    settings: Settings,
    path: str,
    fields: dict[str, str],
    status: int,
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    async with tablet(app, tablet_session(settings, patient.id)) as browser:
        form = hidden_fields((await browser.get("/me/messages")).text)
        answer = await browser.post(path, data={**form, **fields})
    assert answer.status_code == status, answer.text[:500]
    assert answer.headers["content-type"].startswith("text/html")
    stored = await readings_of(client, patient)
    assert len(stored) == (1 if status == 200 else 0)


async def test_a_json_body_is_not_a_form(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    async with tablet(app, tablet_session(settings, patient.id)) as browser:
        answer = await browser.post("/me/messages", json={"text": "hei"})
    assert answer.status_code == 415
