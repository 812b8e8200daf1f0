"""Planned contacts through the API, the console and the tablet, on both databases: a
nurse plans the next call, the patient's home screen and tablet say when, a cancelled one
disappears, and nobody outside the patient's centre plans or sees one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from service.settings import Settings
from tests.console.helpers import browser, hidden_fields, nurse_session
from tests.factories import auth, create_centre, enrol
from tests.tablet.helpers import tablet, tablet_session


def _at(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0).isoformat()


async def test_a_nurse_plans_the_next_call_and_the_patient_sees_it(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    nurse = auth(centre.nurse_token)
    url = f"/api/patients/{patient.id}/planned-contacts"
    later = await client.post(url, json={"planned_at": _at(7), "kind": "home_visit"}, headers=nurse)
    sooner = await client.post(
        url, json={"planned_at": _at(2), "kind": "phone_call"}, headers=nurse
    )
    assert later.status_code == 201, later.text
    assert sooner.status_code == 201
    listed = (await client.get(url, headers=nurse)).json()
    assert [c["kind"] for c in listed] == ["phone_call", "home_visit"]  # soonest first

    home = (await client.get("/api/me/home", headers=patient.headers)).json()
    assert home["next_contact_kind"] == "phone_call"
    next_at = datetime.fromisoformat(home["next_contact"].replace("Z", "+00:00"))
    assert next_at == datetime.fromisoformat(sooner.json()["planned_at"].replace("Z", "+00:00"))
    async with tablet(app, tablet_session(settings, patient.id)) as pad:
        page = (await pad.get("/me")).text
    assert "Oppfølgingstjenesten ringer deg" in page

    cancelled = await client.post(f"{url}/{sooner.json()['id']}/cancel", headers=nurse)
    assert cancelled.status_code == 200
    assert cancelled.json()["cancelled_at"] is not None
    again = await client.post(f"{url}/{sooner.json()['id']}/cancel", headers=nurse)
    assert again.status_code == 404
    home = (await client.get("/api/me/home", headers=patient.headers)).json()
    assert home["next_contact_kind"] == "home_visit"


async def test_a_contact_in_the_past_or_for_an_ended_follow_up_is_refused(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    nurse = auth(centre.nurse_token)
    url = f"/api/patients/{patient.id}/planned-contacts"
    for planned_at in (_at(-1), _at(400)):
        refused = await client.post(
            url, json={"planned_at": planned_at, "kind": "phone_call"}, headers=nurse
        )
        assert refused.status_code == 400
    naive = await client.post(
        url, json={"planned_at": "2030-01-01T10:00:00", "kind": "phone_call"}, headers=nurse
    )
    assert naive.status_code == 422  # a time without its zone is not a time
    assert (await client.get(url, headers=nurse)).json() == []


async def test_only_the_patients_centre_plans_and_only_they_and_the_patient_see(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre, other = await create_centre(app, settings), await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    url = f"/api/patients/{patient.id}/planned-contacts"
    body = {"planned_at": _at(1), "kind": "video_consultation"}
    assert (await client.post(url, json=body, headers=auth(other.nurse_token))).status_code == 404
    assert (await client.get(url, headers=auth(other.nurse_token))).status_code == 404
    assert (await client.post(url, json=body, headers=patient.headers)).status_code == 403
    planned = await client.post(url, json=body, headers=auth(centre.nurse_token))
    assert planned.status_code == 201
    own = await client.get(url, headers=patient.headers)
    assert [c["id"] for c in own.json()] == [planned.json()["id"]]


async def test_the_console_plans_and_cancels_a_contact(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    async with browser(app, nurse_session(settings, [centre.id])) as page_client:
        page = await page_client.get(f"/console/patients/{patient.id}")
        assert "Ingen kontakt er planlagt." in page.text
        form = hidden_fields(page.text)
        wrong = await page_client.post(
            f"/console/patients/{patient.id}/contacts",
            data={**form, "when": "2001-01-01T10:00", "kind": "phone_call"},
        )
        assert wrong.status_code == 400
        assert "Velg et tidspunkt fram i tid" in wrong.text
        when = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT10:30")
        planned = await page_client.post(
            f"/console/patients/{patient.id}/contacts",
            data={**form, "when": when, "kind": "home_visit"},
        )
        assert planned.status_code == 303
        shown = await page_client.get(planned.headers["location"])
        assert "Kontakten er planlagt." in shown.text
        assert "Hjemmebesøk" in shown.text
        assert "10:30" in shown.text  # the time as typed, in the centre's zone
        contact_id = (
            await client.get(
                f"/api/patients/{patient.id}/planned-contacts",
                headers=auth(centre.nurse_token),
            )
        ).json()[0]["id"]
        cancelled = await page_client.post(
            f"/console/patients/{patient.id}/contacts/{contact_id}/cancel",
            data=hidden_fields(shown.text),
        )
        assert cancelled.status_code == 303
        after = await page_client.get(cancelled.headers["location"])
        assert "Kontakten er avlyst." in after.text
        assert "Ingen kontakt er planlagt." in after.text
