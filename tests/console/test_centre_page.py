"""The centre page: a nurse leader sees today's load and the evaluation of a period,
and downloads the report and the CSV; a nurse without the evaluation scope does not."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from service.settings import Settings
from tests.audit.helpers import auditor_token, new_request_id, records_of_request
from tests.console.helpers import browser, nurse_session
from tests.factories import blood_pressure, create_centre, enrol, set_care_plan

LEADER = ("user/MeasureReport.rs",)


async def test_a_leader_sees_the_load_and_the_evaluation_and_downloads_both_files(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "hypertension")
    await client.post(
        "/fhir/Observation", json=blood_pressure(patient.id, 196, 101), headers=patient.headers
    )
    without_plan = await enrol(client, settings, centre)  # raises a technical item
    await client.post(
        "/fhir/Observation",
        json=blood_pressure(without_plan.id, 120, 80),
        headers=without_plan.headers,
    )
    leader = nurse_session(settings, [centre.id], extra_scopes=LEADER)
    today = datetime.now(ZoneInfo(settings.local_timezone)).date().isoformat()  # the centre's day
    request_id = new_request_id()
    async with browser(app, leader) as page_client:
        page = await page_client.get(
            "/console/centre",
            params={"from": today, "to": today},
            headers={"X-Request-Id": request_id},
        )
        assert page.status_code == 200
        assert "1 åpne saker" in page.text  # the red one
        # Opened today, so this week, whatever day of the week today is.
        assert "Saker opprettet denne uken: 1 røde, 0 gule og 1 tekniske." in page.text
        assert f"Centre {centre.id}" in page.text
        assert 'id="chart-items"' in page.text
        assert 'id="chart-minutes"' in page.text
        query = {"centre": centre.id, "from": today, "to": today}
        csv = await page_client.get("/console/centre/evaluation.csv", params=query)
        report = await page_client.get("/console/centre/report.html", params=query)
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    assert report.status_code == 200
    assert "<!DOCTYPE html>" in report.text
    assert "attachment" in report.headers["content-disposition"]
    records = await records_of_request(client, auditor_token(settings, centre), request_id)
    kinds = {(r["resource_type"], r["subtype"], r["patient_id"]) for r in records}
    assert ("MeasureReport", "operation", None) in kinds
    assert ("Task", "search-type", patient.id) in kinds


async def test_a_nurse_without_the_evaluation_scope_is_told_it_is_for_leaders(
    app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    async with browser(app, nurse_session(settings, [centre.id])) as page_client:
        page = await page_client.get("/console/centre")
        csv = await page_client.get(
            "/console/centre/evaluation.csv",
            params={"centre": centre.id, "from": "2026-01-01", "to": "2026-01-31"},
        )
    assert page.status_code == 403
    assert "for fagledere" in page.text
    assert csv.status_code == 404
