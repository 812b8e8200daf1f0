"""The patient page and the item's actions as form posts: claim, a lost race, resolve
with minutes into the resource-use log, snooze refused at its field, pause, and a
nurse of another centre who finds nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
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


async def _red_patient(
    client: httpx.AsyncClient, settings: Settings, centre: Centre
) -> tuple[EnrolledPatient, str]:
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "hypertension")
    earlier = datetime.now(UTC) - timedelta(days=2)
    await client.post(
        "/fhir/Observation",
        json=blood_pressure(patient.id, 140, 85, effective=earlier),
        headers=patient.headers,
    )
    answer = await client.post(
        "/fhir/Observation", json=blood_pressure(patient.id, 196, 101), headers=patient.headers
    )
    assert answer.status_code == 201, answer.text
    [item] = await queue_of(client, centre)
    return patient, str(item["id"])


async def test_the_chart_draws_the_bands_and_marks_the_deviating_reading(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient, _ = await _red_patient(client, settings, centre)
    glucose = observation(patient.id, "2339-0", 108, "mg/dL")
    await client.post("/fhir/Observation", json=glucose, headers=patient.headers)
    async with browser(app, nurse_session(settings, [centre.id])) as page_client:
        page = await page_client.get(f"/console/patients/{patient.id}?days=7")
    assert page.status_code == 200
    html = page.text
    chart = html[html.index('id="chart-systolic"') :]
    chart = chart[: chart.index("</svg>")]
    assert 'class="band band-red"' in chart
    assert 'class="band band-yellow"' in chart
    assert "rød 180" in chart  # the red limit, in words beside its line
    assert re.search(r'<g class="reading reading-red finding"><title>[^<]*196 mmHg', chart)
    # The same panel's diastolic 101 has no finding of its own: not drawn red.
    diastolic = html[html.index('id="chart-diastolic"') :]
    diastolic = diastolic[: diastolic.index("</svg>")]
    assert not re.search(r'class="reading reading-red[^"]*"><title>[^<]*101 mmHg', diastolic)
    assert re.search(r'class="reading reading-green[^"]*"><title>[^<]*101 mmHg', diastolic)
    assert '<a href="/console/patients/' not in chart
    readings = html[html.index('id="h-readings"') :]
    assert "196 mmHg" in readings
    assert "▲</span> Rød" in readings
    assert "108 mg/dL" in readings  # the unit the device sent, beside the canonical one
    assert "Versjon 1" in html  # the care plan and its versions
    assert "7 dager" in html
    assert 'aria-current="page"' in html


async def test_another_centres_nurse_gets_a_404_page_with_nothing_of_the_patient(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre, other = await create_centre(app, settings), await create_centre(app, settings)
    patient, item_id = await _red_patient(client, settings, centre)
    async with browser(app, nurse_session(settings, [other.id])) as page_client:
        page = await page_client.get(f"/console/patients/{patient.id}")
        claim = await page_client.get(f"/console/queue/rows/{item_id}")
    assert page.status_code == 404
    assert "finnes ikke, eller du har ikke tilgang" in page.text
    for secret in (patient.id, "Testesen", "Kari", "196", patient.identity_number):
        assert secret not in page.text
    assert claim.status_code == 204


async def test_two_nurses_claim_one_item_and_the_second_is_told_who_won_and_when(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient, item_id = await _red_patient(client, settings, centre)
    first, second = (nurse_session(settings, [centre.id]) for _ in range(2))
    async with browser(app, first) as a, browser(app, second) as b:
        won = await a.post(f"/console/items/{item_id}/claim", data={"csrf": first.csrf})
        lost = await b.post(f"/console/items/{item_id}/claim", data={"csrf": second.csrf})
    assert won.status_code == 303
    assert won.headers["location"] == f"/console/patients/{patient.id}?done=claim#item"
    assert lost.status_code == 409
    assert f"Saken ble tatt av {first.subject}" in lost.text
    assert re.search(r"\d\d\.\d\d\.\d{4} \d\d:\d\d", lost.text)


async def test_resolve_with_seven_minutes_of_phone_call_is_in_the_resource_use_log(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient, item_id = await _red_patient(client, settings, centre)
    nurse = nurse_session(settings, [centre.id])
    request_id = new_request_id()
    async with browser(app, nurse) as page_client:
        await page_client.post(f"/console/items/{item_id}/claim", data={"csrf": nurse.csrf})
        resolved = await page_client.post(
            f"/console/items/{item_id}/resolve",
            data={
                "csrf": nurse.csrf,
                "outcome": "handled_by_centre",
                "actions": "phone_call",
                "minutes": "7",
                "note": "Ringte, tar ny måling i kveld",
            },
            headers={"X-Request-Id": request_id},
        )
        assert resolved.status_code == 303
        page = await page_client.get(resolved.headers["location"])
    assert "Saken er lukket." in page.text
    log = page.text[page.text.index('id="h-use"') :]
    assert re.search(r"<td>Telefonsamtale</td><td>7</td>", log)
    logged = await client.get(
        f"/api/patients/{patient.id}/resource-use", headers=auth(centre.nurse_token)
    )
    assert [(r["action"], r["minutes"], r["actor"]) for r in logged.json()] == [
        ("phone_call", 7.0, nurse.subject)
    ]
    records = await records_of_request(client, auditor_token(settings, centre), request_id)
    assert [(r["action"], r["subtype"], r["patient_id"]) for r in records] == [
        ("U", "resolve", patient.id)
    ]


async def test_a_snooze_in_the_past_is_refused_at_its_field_in_her_words(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    _, item_id = await _red_patient(client, settings, centre)
    nurse = nurse_session(settings, [centre.id])
    async with browser(app, nurse) as page_client:
        answer = await page_client.post(
            f"/console/items/{item_id}/snooze",
            data={"csrf": nurse.csrf, "until": "2020-01-01T08:00", "reason": "ferie"},
        )
    assert answer.status_code == 400
    assert 'href="#until"' in answer.text  # the error summary links to the field
    assert "en tid i fremtiden" in answer.text
    assert 'value="2020-01-01T08:00"' in answer.text  # what she typed is kept
    assert "Traceback" not in answer.text
    assert "must be in the future" not in answer.text
    [item] = await queue_of(client, centre)
    assert item["state"] == "open"


async def test_a_form_without_its_csrf_token_changes_nothing(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    _, item_id = await _red_patient(client, settings, centre)
    nurse = nurse_session(settings, [centre.id])
    async with browser(app, nurse) as page_client:
        bare = await page_client.post(f"/console/items/{item_id}/claim", data={"a": "b"})
        other = nurse_session(settings, [centre.id])
        foreign = await page_client.post(
            f"/console/items/{item_id}/claim", data={"csrf": other.csrf}
        )
    assert bare.status_code == foreign.status_code == 403
    [item] = await queue_of(client, centre)
    assert item["state"] == "open"
    assert item["claimed_by"] is None


async def test_pause_and_resume_follow_up_from_the_page(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient, _ = await _red_patient(client, settings, centre)
    nurse = nurse_session(settings, [centre.id])
    async with browser(app, nurse) as page_client:
        paused = await page_client.post(
            f"/console/patients/{patient.id}/status",
            data={"csrf": nurse.csrf, "status": "paused", "reason": "innlagt på sykehus"},
        )
        assert paused.status_code == 303
        page = (await page_client.get(f"/console/patients/{patient.id}")).text
        assert "Oppfølging på pause" in page
        no_reason = await page_client.post(
            f"/console/patients/{patient.id}/status",
            data={"csrf": nurse.csrf, "status": "active", "reason": ""},
        )
        assert no_reason.status_code == 400
        assert 'href="#status_reason"' in no_reason.text
        resumed = await page_client.post(
            f"/console/patients/{patient.id}/status",
            data={"csrf": nurse.csrf, "status": "active", "reason": "hjemme igjen"},
        )
        assert resumed.status_code == 303
        assert "Aktiv oppfølging" in (await page_client.get(resumed.headers["location"])).text


async def test_a_resolve_that_lost_the_race_keeps_what_she_wrote(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    _, item_id = await _red_patient(client, settings, centre)
    claimed = await client.post(f"/api/queue/{item_id}/claim", headers=auth(centre.nurse_token))
    assert claimed.status_code == 200
    late = nurse_session(settings, [centre.id])
    async with browser(app, late) as page_client:
        answer = await page_client.post(
            f"/console/items/{item_id}/resolve",
            data={
                "csrf": late.csrf,
                "outcome": "handled_by_centre",
                "minutes": "7",
                "note": "Ringte kl 08, pasienten har tatt medisinen",
            },
        )
    assert answer.status_code == 409
    assert f"Saken ble tatt av nurse-{centre.id}" in answer.text
    assert "Ringte kl 08, pasienten har tatt medisinen" in answer.text
    [item] = await queue_of(client, centre)
    assert item["state"] == "claimed"


async def test_an_escalation_shows_to_whom_and_why_in_the_items_history(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient, item_id = await _red_patient(client, settings, centre)
    nurse = nurse_session(settings, [centre.id])
    async with browser(app, nurse) as page_client:
        answer = await page_client.post(
            f"/console/items/{item_id}/escalate",
            data={"csrf": nurse.csrf, "to": "gp", "reason": "Svarer ikke <på> telefon"},
        )
        assert answer.status_code == 303, answer.text
        page = (await page_client.get(f"/console/patients/{patient.id}")).text
    history = page[page.index('class="history"') :]
    history = history[: history.index("</ol>")]
    assert "eskalert til fastlege" in history
    assert "«Svarer ikke &lt;på&gt; telefon»" in history  # escaped, as she wrote it
