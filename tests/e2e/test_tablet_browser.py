"""The patient's tablet page in a real browser (Debian's chromium) against a real
`dho serve` on PostgreSQL: a COPD patient answers the daily form one question per screen
and the centre's queue shows the finding; a reading typed while offline is kept on the
tablet and sent once when the connection is back, as is one whose answer was lost;
axe-core finds no serious or critical violation on any tablet page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Route, expect

from service.console.session import SESSION_COOKIE, TABLET
from service.settings import Settings
from tests.console.helpers import nurse_session
from tests.e2e.browser import look
from tests.factories import create_centre, enrol, readings_of, set_care_plan
from tests.questionnaires.test_questionnaire_api import daily_copd
from tests.tablet.helpers import tablet_session

pytestmark = pytest.mark.e2e
WAIT_MS = 15_000
TABLET_SIZE = {"width": 800, "height": 1280}  # a 10-inch tablet held upright
PHONE_SIZE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def base(page_server: tuple[str, Path]) -> str:
    return page_server[0]


def _host(base: str) -> str:
    return base.split("://", 1)[1].split(":", 1)[0]


async def _tablet(
    chromium: Browser, base: str, settings: Settings, patient_id: str, size: dict[str, int]
) -> BrowserContext:
    context = await chromium.new_context(viewport=size, base_url=base, locale="nb-NO")
    session = tablet_session(settings, patient_id)
    cookie = {
        "name": TABLET.session_cookie,
        "value": session.cookie,
        "domain": _host(base),
        "path": TABLET.path,
    }
    await context.add_cookies([cookie])  # type: ignore[list-item]
    return context


async def test_a_copd_patient_answers_the_daily_form_and_the_centre_sees_it(
    chromium: Browser,
    base: str,
    shots: Path,
    app: Any,
    client: httpx.AsyncClient,
    settings: Settings,
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    daily = {"copd_more_breathless": {"every_hours": 24, "window_hours": 6}}
    await set_care_plan(client, patient, "copd", schedule=daily)
    yesterday = daily_copd(patient.id, breathless=True)
    yesterday["authored"] = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    sent = await client.post("/fhir/QuestionnaireResponse", json=yesterday, headers=patient.headers)
    assert sent.status_code == 201, sent.text

    context = await _tablet(chromium, base, settings, patient.id, TABLET_SIZE)
    page = await context.new_page()
    await page.goto("/me")
    await expect(page.get_by_role("heading", level=1, name="I dag")).to_be_visible()
    await look(page, shots, "tablet-01-home")
    await page.get_by_role("link", name="Det daglige KOLS-skjemaet").click()
    await expect(page.get_by_text("Spørsmål 1 av 5")).to_be_visible()
    await look(page, shots, "tablet-02-first-question")
    # One question per screen: Next without an answer says what to do, in words.
    await page.get_by_role("button", name="Neste").click()
    await expect(page.get_by_text("Velg et svar før du går videre.")).to_be_visible()
    shown = page.locator("fieldset.question:not([hidden])")  # the one question on screen
    await expect(shown).to_have_count(1)
    await expect(shown.locator("legend")).to_have_text("Er du mer tungpusten enn vanlig i dag?")
    await shown.get_by_label("Ja").check()
    await page.get_by_role("button", name="Neste").click()
    await expect(page.get_by_text("Spørsmål 2 av 5")).to_be_visible()
    await expect(page.get_by_text("Er du mer tungpusten enn vanlig i dag?")).to_be_hidden()
    await shown.get_by_label("Nei").check()
    await page.get_by_role("button", name="Neste").click()
    await page.get_by_role("button", name="Neste").click()  # the colour may be skipped
    await shown.get_by_label("Nei").check()
    await page.get_by_role("button", name="Neste").click()
    await expect(page.get_by_text("Spørsmål 5 av 5")).to_be_visible()
    await shown.get_by_label("6", exact=True).check()
    await look(page, shots, "tablet-03-last-question")
    await page.get_by_role("button", name="Send svarene").click()
    await expect(page.get_by_role("heading", name="Takk, det er sendt")).to_be_visible()
    await expect(page.get_by_text("Gult: følg med")).to_be_visible()
    await look(page, shots, "tablet-04-advice-after-sending")
    await context.close()

    nurse = nurse_session(settings, [centre.id])
    console = await chromium.new_context(base_url=base, locale="nb-NO")
    host = _host(base)
    await console.add_cookies(
        [{"name": SESSION_COOKIE, "value": nurse.cookie, "domain": host, "path": "/console"}]  # type: ignore[list-item]
    )
    queue = await console.new_page()
    await queue.goto("/console")
    row = queue.locator("tbody[data-kind=clinical] tr", has_text="tungpusten")
    await expect(row).to_be_visible(timeout=WAIT_MS)
    await expect(row.locator(".badge")).to_contain_text("Gul")
    await console.close()


async def _kept_count(page: Any) -> int:
    count: int = await page.evaluate(
        "JSON.parse(window.localStorage.getItem('dho-outbox') || '[]').length"
    )
    return count


async def test_a_reading_typed_offline_is_sent_once_when_the_connection_is_back(
    chromium: Browser,
    base: str,
    shots: Path,
    app: Any,
    client: httpx.AsyncClient,
    settings: Settings,
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    await set_care_plan(client, patient, "copd")
    context = await _tablet(chromium, base, settings, patient.id, PHONE_SIZE)
    page = await context.new_page()
    await page.goto("/me/reading/spo2")
    await look(page, shots, "tablet-05-reading-on-a-phone")
    await page.get_by_label("Oksygenmetning").fill("95")
    await context.set_offline(True)
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_role("status")).to_contain_text("Ikke sendt ennå: 1")
    await look(page, shots, "tablet-06-kept-offline")
    assert await _kept_count(page) == 1
    assert await readings_of(client, patient) == []

    await context.set_offline(False)
    await expect(page.get_by_role("status")).to_contain_text("er nå sendt", timeout=WAIT_MS)
    assert await _kept_count(page) == 0
    [stored] = await readings_of(client, patient)
    assert stored["valueQuantity"]["value"] == 95

    # The server stored it but the answer was lost on the way back: the tablet keeps it,
    # sends it again, and the server's idempotency makes the resend the same reading.
    await page.goto("/me/reading/heart_rate")
    lost: list[str] = []

    async def lose_the_answer(route: Route) -> None:
        if not lost:
            await route.fetch()  # the server gets it and stores it
            lost.append(route.request.url)
            await route.abort("connectionreset")
        else:
            await route.continue_()

    await page.route("**/me/reading/heart_rate", lose_the_answer)
    await page.get_by_label("Puls").fill("72")
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_role("status")).to_contain_text("Ikke sendt ennå: 1")
    await page.evaluate("window.dispatchEvent(new Event('online'))")
    await expect(page.get_by_role("status")).to_contain_text("er nå sendt", timeout=WAIT_MS)
    readings = await readings_of(client, patient)
    assert sorted(r["code"]["coding"][0]["code"] for r in readings) == ["59408-5", "8867-4"]

    # Typed offline, refused once sent (SpO2 over 100 %): the patient is told, not left
    # believing it arrived.
    await page.goto("/me/reading/spo2")
    await page.get_by_label("Oksygenmetning").fill("150")
    await context.set_offline(True)
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_role("status")).to_contain_text("Ikke sendt ennå: 1")
    await context.set_offline(False)
    await expect(page.get_by_role("status")).to_contain_text("ble ikke tatt imot", timeout=WAIT_MS)
    assert await _kept_count(page) == 0
    assert len(await readings_of(client, patient)) == 2
    await context.close()


async def test_messages_and_an_error_page_pass_axe_on_a_tablet(
    chromium: Browser,
    base: str,
    shots: Path,
    app: Any,
    client: httpx.AsyncClient,
    settings: Settings,
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    context = await _tablet(chromium, base, settings, patient.id, TABLET_SIZE)
    page = await context.new_page()
    await page.goto("/me/messages")
    await page.get_by_label("Skriv en melding").fill("Kan dere ringe meg i morgen?")
    await page.get_by_role("button", name="Send meldingen").click()
    await expect(page.get_by_text("Meldingen er sendt.")).to_be_visible()
    await expect(page.get_by_text("Kan dere ringe meg i morgen?")).to_be_visible()
    await look(page, shots, "tablet-07-messages")
    await page.goto("/me/reading/blood_pressure")
    await page.get_by_label("Det øverste tallet (systolisk)").fill("1400")
    await page.get_by_label("Det nederste tallet (diastolisk)").fill("80")
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_role("alert")).to_contain_text("mellom 40 og 300")
    await look(page, shots, "tablet-08-reading-refused")
    await page.goto("/me/login")
    await look(page, shots, "tablet-09-login")
    await context.close()
