"""The care-plan editor: the preview counts what a change would have raised, saving
makes a new version, and refusals stand at their field."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from service.settings import Settings
from tests.console.helpers import browser, nurse_session
from tests.factories import blood_pressure, create_centre, enrol, set_care_plan


async def _patient(client: httpx.AsyncClient, app: Any, settings: Settings) -> Any:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "hypertension")
    for systolic in (150, 152, 149):  # in band today: yellow starts above 159
        answer = await client.post(
            "/fhir/Observation",
            json=blood_pressure(patient.id, systolic, 85),
            headers=patient.headers,
        )
        assert answer.status_code == 201
    return centre, patient


def _cells(html: str, row: str) -> list[str]:
    found = re.search(rf'<th scope="row">{row}</th><td>(\d+)</td><td>(\d+)</td>', html)
    assert found, row
    return [found.group(1), found.group(2)]


async def test_the_preview_counts_what_a_tighter_band_would_have_raised(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre, patient = await _patient(client, app, settings)
    nurse = nurse_session(settings, [centre.id])
    async with browser(app, nurse) as page_client:
        editor = await page_client.get(f"/console/patients/{patient.id}/care-plan")
        assert editor.status_code == 200
        assert 'placeholder="159"' in editor.text  # the protocol's limit, as a hint
        preview = await page_client.post(
            f"/console/patients/{patient.id}/care-plan",
            data={
                "csrf": nurse.csrf,
                "version": "1",
                "intent": "preview",
                "systolic.yellow_high": "140",
                "systolic.red_high": "180",
            },
        )
    assert preview.status_code == 200
    assert _cells(preview.text, "Nåværende plan") == ["0", "0"]
    assert _cells(preview.text, "Med endringen") == ["0", "1"]
    assert 'value="140"' in preview.text  # the form keeps what she typed
    plan = await client.get(
        f"/api/patients/{patient.id}/care-plan",
        headers={"Authorization": f"Bearer {centre.nurse_token}"},
    )
    assert plan.json()["version"] == 1  # a preview stores nothing


async def test_saving_makes_a_new_version_and_refusals_stand_at_their_field(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre, patient = await _patient(client, app, settings)
    nurse = nurse_session(settings, [centre.id])
    url = f"/console/patients/{patient.id}/care-plan"
    form = {
        "csrf": nurse.csrf,
        "version": "1",
        "intent": "save",
        "systolic.yellow_high": "140",
        "systolic.red_high": "180",
    }
    async with browser(app, nurse) as page_client:
        no_reason = await page_client.post(url, data=form)
        assert no_reason.status_code == 400
        assert 'href="#f-reason"' in no_reason.text
        unsafe = await page_client.post(
            url, data={**form, "reason": "tåler mer", "systolic.red_high": "250"}
        )
        assert unsafe.status_code == 400
        assert 'href="#f-systolic-red_high"' in unsafe.text
        assert "sikkerhetsgrense 220" in unsafe.text
        saved = await page_client.post(url, data={**form, "reason": "strammere etter kontroll"})
        assert saved.status_code == 303
        page = await page_client.get(saved.headers["location"])
        assert "Behandlingsplanen er lagret som en ny versjon." in page.text
        assert "strammere etter kontroll" in page.text
        stale = await page_client.post(url, data={**form, "reason": "en gang til"})
    assert stale.status_code == 409
    assert "Noen andre har endret planen" in stale.text
    plan = await client.get(
        f"/api/patients/{patient.id}/care-plan",
        headers={"Authorization": f"Bearer {centre.nurse_token}"},
    )
    assert plan.json()["version"] == 2
    assert plan.json()["bands"]["systolic"]["yellow_high"] == 140
    # the limits she left empty kept what was in force, not the looser safety limits
    assert plan.json()["bands"]["systolic"]["red_low"] == 90
    assert plan.json()["effective_bands"]["systolic"]["red_high"] == 180


async def test_proposed_bands_are_filled_in_for_her_to_check_and_nothing_is_saved(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre, patient = await _patient(client, app, settings)
    nurse = nurse_session(settings, [centre.id])
    url = f"/console/patients/{patient.id}/care-plan"
    form = {"csrf": nurse.csrf, "version": "1", "intent": "propose"}
    async with browser(app, nurse) as page_client:
        few = await page_client.post(url, data=form)
        assert "For få målinger" in few.text  # three readings propose no band yet
        for day in range(1, 9):  # a week and more of daily readings
            when = datetime.now(UTC) - timedelta(days=day, hours=1)
            await client.post(
                "/fhir/Observation",
                json=blood_pressure(patient.id, 140 + day, 85, effective=when),
                headers=patient.headers,
            )
        page = await page_client.post(url, data=form)
    assert page.status_code == 200
    assert "Forslag fra 11 målinger" in page.text
    filled = re.search(r'name="systolic.yellow_high"[^>]*value="([0-9.]+)"', page.text)
    assert filled is not None  # a proposed limit, in the field, for her to check
    plan = await client.get(
        f"/api/patients/{patient.id}/care-plan",
        headers={"Authorization": f"Bearer {centre.nurse_token}"},
    )
    assert plan.json()["version"] == 1
