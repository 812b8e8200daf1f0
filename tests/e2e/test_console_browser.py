"""The nurse console in a real browser (Debian's chromium) against a real `dho serve`
with two workers on PostgreSQL: what a nurse sees and does, axe-core on every page,
a screenshot of every page in the run's folder."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from service.settings import Settings
from tests.console.helpers import nurse_session
from tests.e2e.browser import look
from tests.e2e.pages import nurse_context, red_item
from tests.factories import (
    auth,
    blood_pressure,
    create_centre,
    enrol,
    queue_of,
    set_care_plan,
)

pytestmark = pytest.mark.e2e
WAIT_MS = 15_000
_SERVER_LOG: list[Path] = []


@pytest.fixture(scope="module")
def base(page_server: tuple[str, Path]) -> str:
    _SERVER_LOG.append(page_server[1])
    return page_server[0]


async def _tab_to(page: Page, element_id: str, limit: int = 80) -> None:
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
            assert outline == "solid", "the focused control must show its focus"
            return
    raise AssertionError(f"#{element_id} was not reached by Tab")


async def test_a_newcomer_logs_in_with_one_click_in_development(
    chromium: Browser, base: str, shots: Path
) -> None:
    assert f"Console:      {base}/console" in _SERVER_LOG[-1].read_text()  # what dho serve says
    context = await nurse_context(chromium, base)
    page = await context.new_page()
    await page.goto("/console")
    await expect(page.get_by_role("heading", name="Logg inn")).to_be_visible()
    await look(page, shots, "01-login")
    await page.get_by_role("link", name="Logg inn", exact=True).click()
    await expect(page.get_by_role("heading", name="Utviklingsinnlogging")).to_be_visible()
    await look(page, shots, "02-dev-issuer-login")
    await page.get_by_role("button", name="Sykepleier, Salten").click()
    await expect(page.get_by_role("heading", name="Køen", exact=True)).to_be_visible()
    await expect(page.get_by_text("Innlogget som nurse-salten")).to_be_visible()
    await look(page, shots, "03-queue-after-login")
    await context.close()


async def test_a_red_item_appears_on_an_open_queue_page_without_a_reload(
    chromium: Browser,
    base: str,
    shots: Path,
    app: Any,
    client: httpx.AsyncClient,
    settings: Settings,
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "hypertension")
    context = await nurse_context(chromium, base, nurse_session(settings, [centre.id]))
    page = await context.new_page()
    await page.goto("/console")
    await expect(page.locator("html[data-live=connected]")).to_have_count(1, timeout=WAIT_MS)
    await expect(page.get_by_text("Ingen kliniske saker venter.")).to_be_visible()
    await page.evaluate("window.stillTheSamePage = true")
    async with httpx.AsyncClient(base_url=base) as api:
        answer = await api.post(
            "/fhir/Observation",
            json=blood_pressure(patient.id, 195, 102),
            headers=patient.headers,
        )
    assert answer.status_code == 201, answer.text
    row = page.locator("tbody[data-kind=clinical] tr", has_text="Systolisk blodtrykk 195 mmHg")
    await expect(row).to_be_visible(timeout=WAIT_MS)
    await expect(row.locator(".badge")).to_contain_text("Rød")
    await expect(page.get_by_text("Ingen kliniske saker venter.")).to_be_hidden()
    assert await page.evaluate("window.stillTheSamePage") is True  # no reload
    await look(page, shots, "04-queue-live-red-item")
    await page.set_viewport_size({"width": 683, "height": 384})  # 1366x768 at 200 %
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    await look(page, shots, "05-queue-at-200-percent")
    await context.close()


async def test_two_nurses_claim_the_same_item_and_the_second_is_told_who(
    chromium: Browser,
    base: str,
    shots: Path,
    app: Any,
    client: httpx.AsyncClient,
    settings: Settings,
) -> None:
    centre = await create_centre(app, settings)
    patient, _ = await red_item(client, settings, centre)
    first, second = nurse_session(settings, [centre.id]), nurse_session(settings, [centre.id])
    one, two = (
        await nurse_context(chromium, base, first),
        await nurse_context(chromium, base, second),
    )
    page_one, page_two = await one.new_page(), await two.new_page()
    for page in (page_one, page_two):
        await page.goto(f"/console/patients/{patient.id}")
    await page_one.get_by_role("button", name="Ta saken", exact=True).click()
    await expect(page_one.get_by_text("Du har tatt saken.")).to_be_visible()
    await page_two.get_by_role("button", name="Ta saken", exact=True).click()
    await expect(page_two.get_by_role("alert")).to_contain_text(
        f"Saken ble tatt av {first.subject}"
    )
    await look(page_two, shots, "06-lost-race")
    await one.close()
    await two.close()


async def test_keyboard_only_claim_and_resolve_seven_minutes_of_phone_call(
    chromium: Browser,
    base: str,
    shots: Path,
    app: Any,
    client: httpx.AsyncClient,
    settings: Settings,
) -> None:
    centre = await create_centre(app, settings)
    patient, _ = await red_item(client, settings, centre)
    nurse = nurse_session(settings, [centre.id])
    context = await nurse_context(chromium, base, nurse)
    page = await context.new_page()
    await page.goto(f"/console/patients/{patient.id}")
    await _tab_to(page, "claim")
    await page.keyboard.press("Enter")
    await expect(page.get_by_text("Du har tatt saken.")).to_be_visible()
    await _tab_to(page, "outcome")
    await page.keyboard.press("H")  # "Håndtert av sentralen"
    assert await page.input_value("#outcome") == "handled_by_centre"
    await page.keyboard.press("Tab")  # Gjennomgått målinger
    await page.keyboard.press("Tab")  # Telefonsamtale
    await page.keyboard.press("Space")
    await _tab_to(page, "minutes")
    await page.keyboard.type("7")
    await page.keyboard.press("Tab")
    await page.keyboard.type("Ringte pasienten, ny måling i kveld")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await expect(page.get_by_text("Saken er lukket.")).to_be_visible()
    log = page.locator("section", has=page.locator("#h-use"))
    await expect(log.locator("tr", has_text="Telefonsamtale")).to_contain_text("7")
    await look(page, shots, "07-patient-after-resolve")
    logged = await client.get(
        f"/api/patients/{patient.id}/resource-use", headers=auth(centre.nurse_token)
    )
    assert [(r["action"], r["minutes"]) for r in logged.json()] == [("phone_call", 7.0)]
    today = datetime.now(ZoneInfo(settings.local_timezone)).date().isoformat()  # the centre's day
    period = {"centre": centre.id, "from": today, "to": today}
    figures = await client.get(
        "/api/evaluation",
        params={**period, "disclosure": "exact"},
        headers=auth(centre.admin_token),
    )
    by_action = figures.json()["overall"]["nurse_time"]["by_action"]
    assert by_action["phone_call"]["minutes"] == 7.0
    # One call: as published, the small-number rule hides its minutes.
    published = await client.get("/api/evaluation", params=period, headers=auth(centre.admin_token))
    assert published.json()["overall"]["nurse_time"]["by_action"]["phone_call"]["minutes"] is None
    await context.close()


async def test_the_patient_page_draws_the_bands_and_the_deviating_reading(
    chromium: Browser,
    base: str,
    shots: Path,
    app: Any,
    client: httpx.AsyncClient,
    settings: Settings,
) -> None:
    centre = await create_centre(app, settings)
    patient, _ = await red_item(client, settings, centre)
    context = await nurse_context(chromium, base, nurse_session(settings, [centre.id]))
    page = await context.new_page()
    await page.goto(f"/console/patients/{patient.id}?days=7")
    chart = page.locator("#chart-systolic")
    await expect(chart.locator("rect.band-red")).not_to_have_count(0)
    await expect(chart.locator("rect.band-yellow")).not_to_have_count(0)
    deviating = chart.locator("g.reading-red.finding")
    await expect(deviating).to_have_count(1)
    assert "196 mmHg" in (await deviating.locator("title").text_content() or "")
    await look(page, shots, "08-patient-chart-bands")
    await page.set_viewport_size({"width": 683, "height": 384})
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    await look(page, shots, "09-patient-at-200-percent")
    await context.close()


async def test_a_nurse_of_another_centre_gets_a_404_page_with_nothing_of_the_patient(
    chromium: Browser,
    base: str,
    shots: Path,
    app: Any,
    client: httpx.AsyncClient,
    settings: Settings,
) -> None:
    centre, other = await create_centre(app, settings), await create_centre(app, settings)
    patient, _ = await red_item(client, settings, centre)
    context = await nurse_context(chromium, base, nurse_session(settings, [other.id]))
    page = await context.new_page()
    answer = await page.goto(f"/console/patients/{patient.id}")
    assert answer is not None
    assert answer.status == 404
    content = await page.content()
    for secret in (patient.id, "Testesen", "196", patient.identity_number):
        assert secret not in content
    await expect(page.get_by_role("heading", name="Noe gikk galt")).to_be_visible()
    await look(page, shots, "10-not-found")
    await context.close()


async def test_an_idle_session_goes_to_login_and_back_and_a_forged_form_is_refused(
    chromium: Browser,
    base: str,
    shots: Path,
    app: Any,
    client: httpx.AsyncClient,
    settings: Settings,
) -> None:
    idle = settings.console_idle_minutes * 60
    stale = nurse_session(settings, ["salten"], seen=time.time() - idle - 5)
    context = await nurse_context(chromium, base, stale)
    page = await context.new_page()
    await page.goto("/console?severity=red")
    await expect(page.get_by_text("ikke har gjort noe på en stund")).to_be_visible()
    await look(page, shots, "11-login-after-idle-timeout")
    await page.get_by_role("link", name="Logg inn", exact=True).click()
    await page.get_by_role("button", name="Sykepleier, Salten").click()
    await expect(page.get_by_role("heading", name="Køen", exact=True)).to_be_visible()
    assert page.url.endswith("/console?severity=red")
    await context.close()

    centre = await create_centre(app, settings)
    patient, _ = await red_item(client, settings, centre)
    context = await nurse_context(chromium, base, nurse_session(settings, [centre.id]))
    page = await context.new_page()
    await page.goto(f"/console/patients/{patient.id}")
    await page.evaluate(
        "document.querySelectorAll('input[name=csrf]').forEach(i => { i.value = 'forged'; })"
    )
    await page.get_by_role("button", name="Ta saken", exact=True).click()
    await expect(page.get_by_role("alert")).to_contain_text("Skjemaet kunne ikke sendes")
    await look(page, shots, "12-csrf-refused")
    [item] = await queue_of(client, centre)
    assert item["state"] == "open"
    await context.close()


async def test_the_care_plan_preview_counts_what_a_change_would_raise(
    chromium: Browser,
    base: str,
    shots: Path,
    app: Any,
    client: httpx.AsyncClient,
    settings: Settings,
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "hypertension")
    for systolic in (150, 152, 149):
        await client.post(
            "/fhir/Observation",
            json=blood_pressure(patient.id, systolic, 85),
            headers=patient.headers,
        )
    context = await nurse_context(chromium, base, nurse_session(settings, [centre.id]))
    page = await context.new_page()
    await page.goto(f"/console/patients/{patient.id}")
    await page.get_by_role("link", name="Endre behandlingsplan").click()
    await look(page, shots, "13-care-plan-editor")
    await page.get_by_label("Systolisk blodtrykk: Gul over").fill("140")
    await page.get_by_role("button", name="Forhåndsvis").click()
    proposed = page.locator("#preview tr", has_text="Med endringen")
    await expect(proposed.locator("td").nth(1)).to_have_text("1")  # one yellow item
    await look(page, shots, "14-care-plan-preview")
    await context.close()


async def test_a_nurse_leader_reads_the_centre_page(
    chromium: Browser,
    base: str,
    shots: Path,
    app: Any,
    client: httpx.AsyncClient,
    settings: Settings,
) -> None:
    centre = await create_centre(app, settings)
    await red_item(client, settings, centre)
    leader = nurse_session(settings, [centre.id], extra_scopes=("user/MeasureReport.rs",))
    context = await nurse_context(chromium, base, leader)
    page = await context.new_page()
    await page.goto("/console")
    await page.get_by_role("link", name="Sentralen", exact=True).click()
    await expect(page.get_by_text("1 åpne saker").first).to_be_visible()
    await expect(page.get_by_role("link", name="Last ned tallene (CSV)")).to_be_visible()
    await look(page, shots, "15-centre-page")
    await page.get_by_role("link", name="English").click()
    await expect(page.get_by_role("heading", name="The centre", exact=True)).to_be_visible()
    await look(page, shots, "16-centre-page-english")
    await context.close()


async def test_a_nurse_enrols_a_patient_from_the_console(
    chromium: Browser, base: str, shots: Path, app: Any, settings: Settings
) -> None:
    from tests.factories import new_identity_number

    centre = await create_centre(app, settings)
    context = await nurse_context(chromium, base, nurse_session(settings, [centre.id]))
    page = await context.new_page()
    await page.goto("/console")
    await page.get_by_role("link", name="Ny pasient").click()
    await page.get_by_label("Fødselsnummer eller D-nummer").fill("12345678901")
    await page.get_by_label("Fornavn").fill("Ola")
    await page.get_by_label("Etternavn").fill("Nordmann")
    await page.get_by_label("Kommunenummer").fill("1804")
    await page.get_by_label("Protokoll").select_option("heart_failure")
    await page.get_by_role("button", name="Meld inn").click()
    await expect(page.get_by_role("alert")).to_contain_text("Sjekk de 11 sifrene")
    await look(page, shots, "17-enrolment-refused")
    await page.get_by_label("Fødselsnummer eller D-nummer").fill(new_identity_number())
    await page.get_by_role("button", name="Meld inn").click()
    await expect(page.get_by_text("Pasienten er meldt inn.")).to_be_visible()
    await look(page, shots, "18-patient-just-enrolled")
    await context.close()
