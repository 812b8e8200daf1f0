"""The queue page: what a nurse sees, in which order, with which filters, and that
each patient shown is audited as an API read is."""

from __future__ import annotations

import re
from typing import Any

import httpx

from service.settings import Settings
from tests.audit.helpers import auditor_token, new_request_id, records_of_request
from tests.console.helpers import browser, nurse_session
from tests.factories import (
    Centre,
    EnrolledPatient,
    auth,
    blood_pressure,
    create_centre,
    enrol,
    observation,
    queue_of,
    set_care_plan,
)


async def _red(client: httpx.AsyncClient, settings: Settings, centre: Centre) -> EnrolledPatient:
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "hypertension")
    for systolic in (150, 148, 152):
        reading = blood_pressure(patient.id, systolic, 90)
        await client.post("/fhir/Observation", json=reading, headers=patient.headers)
    answer = await client.post(
        "/fhir/Observation", json=blood_pressure(patient.id, 195, 100), headers=patient.headers
    )
    assert answer.status_code == 201, answer.text
    return patient


async def _yellow(client: httpx.AsyncClient, settings: Settings, centre: Centre) -> EnrolledPatient:
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "heart_failure")
    for value in (105, 106, 107):  # above 100 three times in a row: yellow
        answer = await client.post(
            "/fhir/Observation",
            json=observation(patient.id, "8867-4", value),
            headers=patient.headers,
        )
        assert answer.status_code == 201, answer.text
    return patient


def _row_order(html: str) -> list[str]:
    return re.findall(r'<tr id="item-[^"]+" data-rank="[^"]+" data-kind="clinical"', html)


async def test_red_comes_first_with_findings_in_words_a_sparkline_and_the_wait(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    yellow = await _yellow(client, settings, centre)
    red = await _red(client, settings, centre)
    items = {i["patient_id"]: i for i in await queue_of(client, centre)}
    assert items[red.id]["severity"] == "red"
    assert items[yellow.id]["severity"] == "yellow"
    async with browser(app, nurse_session(settings, [centre.id])) as page_client:
        page = await page_client.get("/console")
    assert page.status_code == 200
    html = page.text
    red_at = html.index(f'id="item-{items[red.id]["id"]}"')
    yellow_at = html.index(f'id="item-{items[yellow.id]["id"]}"')
    assert red_at < yellow_at
    red_row = html[red_at:yellow_at]
    assert "▲</span> Rød" in red_row
    assert "Systolisk blodtrykk 195 mmHg" in red_row
    assert "grense" in red_row
    assert '<svg class="spark" role="img"' in red_row
    assert "Høyt blodtrykk" in red_row  # the protocol, in words
    assert re.search(r"\d+ år", red_row)
    assert "frist 15 min" in red_row  # the centre's default SLA for a red item
    assert "Ta saken" in red_row
    assert "■</span> Gul" in html[yellow_at:]


async def test_filters_mine_unclaimed_severity_and_protocol(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    yellow = await _yellow(client, settings, centre)
    red = await _red(client, settings, centre)
    items = {i["patient_id"]: i["id"] for i in await queue_of(client, centre)}
    nurse = nurse_session(settings, [centre.id])
    async with browser(app, nurse) as page_client:
        claimed = await page_client.post(
            f"/console/items/{items[red.id]}/claim", data={"csrf": nurse.csrf}
        )
        assert claimed.status_code == 303
        mine = (await page_client.get("/console?who=mine")).text
        unclaimed = (await page_client.get("/console?who=unclaimed")).text
        only_red = (await page_client.get("/console?severity=red")).text
        heart = (await page_client.get("/console?protocol=heart_failure")).text
    assert items[red.id] in mine
    assert items[yellow.id] not in mine
    assert f"Tatt av {nurse.subject}" in mine
    assert items[yellow.id] in unclaimed
    assert items[red.id] not in unclaimed
    assert items[red.id] in only_red
    assert items[yellow.id] not in only_red
    assert items[yellow.id] in heart
    assert items[red.id] not in heart


async def test_technical_items_stand_apart_from_clinical_ones(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)  # no care plan: a technical item
    await client.post(
        "/fhir/Observation", json=observation(patient.id, "8867-4", 80), headers=patient.headers
    )
    [item] = await queue_of(client, centre)
    assert item["technical"] is True
    async with browser(app, nurse_session(settings, [centre.id])) as page_client:
        html = (await page_client.get("/console")).text
    technical = html[html.index('id="h-technical"') :]
    assert f'id="item-{item["id"]}"' in technical
    assert 'data-empty="clinical">' in html  # the clinical list says it is empty


async def test_every_patient_on_the_page_is_audited_and_no_other_centre_shows(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre, other = await create_centre(app, settings), await create_centre(app, settings)
    shown = [await _red(client, settings, centre), await _yellow(client, settings, centre)]
    hidden = await _red(client, settings, other)
    request_id = new_request_id()
    nurse = nurse_session(settings, [centre.id])
    async with browser(app, nurse) as page_client:
        page = await page_client.get("/console", headers={"X-Request-Id": request_id})
    assert hidden.id not in page.text
    records = await records_of_request(client, auditor_token(settings, centre), request_id)
    assert {r["patient_id"] for r in records} == {p.id for p in shown}
    assert {(r["actor"], r["resource_type"], r["subtype"]) for r in records} == {
        (nurse.subject, "Task", "search-type")
    }


async def test_a_live_update_renders_the_same_row_or_says_it_is_gone(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    red = await _red(client, settings, centre)
    [item] = await queue_of(client, centre)
    nurse = nurse_session(settings, [centre.id])
    passive = {"X-DHO-Passive": "1"}
    async with browser(app, nurse) as page_client:
        full = (await page_client.get("/console")).text
        row = await page_client.get(f"/console/queue/rows/{item['id']}", headers=passive)
        assert row.status_code == 200
        assert row.text.strip().startswith(f'<tr id="item-{item["id"]}"')
        assert row.text.strip() in full  # one source of markup
        assert "set-cookie" not in row.headers  # a live update does not keep her signed in
        await client.post(
            f"/api/queue/{item['id']}/resolve",
            json={"outcome": "no_action_needed"},
            headers=auth(centre.nurse_token),
        )
        gone = await page_client.get(f"/console/queue/rows/{item['id']}", headers=passive)
        assert gone.status_code == 204
    assert red.id not in gone.text


async def test_an_admin_is_told_the_queue_is_for_nurses(app: Any, settings: Settings) -> None:
    from service.auth.principal import Role

    centre = await create_centre(app, settings)
    admin = nurse_session(settings, [centre.id], role=Role.admin)
    async with browser(app, admin) as page_client:
        page = await page_client.get("/console")
    assert page.status_code == 403
    assert "Køen er for sykepleiere" in page.text
