"""Enrolment from the console: the identity number checked as the API checks it, the
protocol and trial period set, and nothing stored when something is refused."""

from __future__ import annotations

from typing import Any

import httpx

from service.settings import Settings
from tests.console.helpers import browser, nurse_session
from tests.factories import auth, create_centre, new_identity_number


async def _patients_of(client: httpx.AsyncClient, token: str) -> list[dict[str, Any]]:
    answer = await client.get("/fhir/Patient", headers=auth(token))
    return [e["resource"] for e in answer.json().get("entry", [])]


async def test_a_nurse_enrols_a_patient_with_protocol_trial_and_kit(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    nurse = nurse_session(settings, [centre.id])
    form = {
        "csrf": nurse.csrf,
        "identity": new_identity_number(),
        "given": "Ola Nils",
        "family": "Nordmann",
        "municipality": "1804",
        "centre": centre.id,
        "protocol": "copd",
        "trial_days": "21",
        "kit": "KIT-4711",
    }
    async with browser(app, nurse) as page_client:
        assert "Meld inn en ny pasient" in (await page_client.get("/console/enrol")).text
        enrolled = await page_client.post("/console/enrol", data=form)
        assert enrolled.status_code == 303
        page = await page_client.get(enrolled.headers["location"])
    assert "Pasienten er meldt inn." in page.text
    assert "Ola Nils Nordmann" in page.text
    assert "KOLS" in page.text
    assert "Pasienten er i prøveperioden." in page.text
    [patient] = await _patients_of(client, centre.nurse_token)
    plan = await client.get(
        f"/api/patients/{patient['id']}/care-plan", headers=auth(centre.nurse_token)
    )
    assert plan.json()["protocol"] == "copd"
    assert plan.json()["in_trial"] is True


async def test_a_wrong_identity_number_is_refused_at_its_field_and_nothing_is_stored(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    nurse = nurse_session(settings, [centre.id])
    good = new_identity_number()
    wrong = good[:-1] + str((int(good[-1]) + 1) % 10)  # a broken check digit
    form = {
        "csrf": nurse.csrf,
        "identity": wrong,
        "given": "Kari",
        "family": "Nordmann",
        "municipality": "1804",
        "centre": centre.id,
        "protocol": "copd",
    }
    async with browser(app, nurse) as page_client:
        refused = await page_client.post("/console/enrol", data=form)
        assert refused.status_code == 422
        assert 'href="#f-identity"' in refused.text
        assert "Sjekk de 11 sifrene" in refused.text
        assert f'value="{wrong}"' in refused.text
        assert await _patients_of(client, centre.nurse_token) == []
        first = await page_client.post("/console/enrol", data={**form, "identity": good})
        assert first.status_code == 303
        again = await page_client.post("/console/enrol", data={**form, "identity": good})
    assert again.status_code == 409
    assert "allerede meldt inn" in again.text
    assert len(await _patients_of(client, centre.nurse_token)) == 1


async def test_the_devices_handed_over_are_lent_and_one_lent_elsewhere_refuses_it_all(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    """The start-up visit hands over a cuff: from enrolment its readings are the new
    patient's. A cuff still lent to someone else refuses the enrolment at its field, and
    nothing of the second patient is stored."""
    centre = await create_centre(app, settings)
    nurse = nurse_session(settings, [centre.id])
    form = {
        "csrf": nurse.csrf,
        "given": "Ola",
        "family": "Nordmann",
        "municipality": "1804",
        "centre": centre.id,
        "protocol": "hypertension",
        "devices": "00-1C-05-FF-FE-74-E8-00",
    }
    async with browser(app, nurse) as page_client:
        first = await page_client.post(
            "/console/enrol", data={**form, "identity": new_identity_number()}
        )
        assert first.status_code == 303
        page = (await page_client.get(first.headers["location"])).text
        kit = page[page.index('id="h-kit"') :]
        kit = kit[: kit.index("</table>")]
        assert "00-1C-05-FF-FE-74-E8-00" in kit
        assert "Hos pasienten" in kit
        refused = await page_client.post(
            "/console/enrol", data={**form, "identity": new_identity_number(), "given": "Per"}
        )
    assert refused.status_code == 409
    assert 'href="#f-devices"' in refused.text
    assert "utlånt til en annen pasient" in refused.text
    [patient] = await _patients_of(client, centre.nurse_token)
    loans = await client.get(
        "/api/device-loans", params={"open": "true"}, headers=auth(centre.nurse_token)
    )
    assert [loan["patient_id"] for loan in loans.json()] == [patient["id"]]


async def test_a_device_returned_from_the_patient_page_can_be_lent_to_the_next_patient(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    nurse = nurse_session(settings, [centre.id])
    form = {
        "csrf": nurse.csrf,
        "given": "Ola",
        "family": "Nordmann",
        "municipality": "1804",
        "centre": centre.id,
        "protocol": "hypertension",
        "devices": "00-1C-05-FF-FE-74-E8-01",
    }
    async with browser(app, nurse) as page_client:
        first = await page_client.post(
            "/console/enrol", data={**form, "identity": new_identity_number()}
        )
        patient_page = first.headers["location"].split("?")[0]
        [loan] = (await client.get("/api/device-loans", headers=auth(centre.nurse_token))).json()
        returned = await page_client.post(
            f"{patient_page}/loans/{loan['id']}/return", data={"csrf": nurse.csrf}
        )
        assert returned.status_code == 303, returned.text
        page = (await page_client.get(returned.headers["location"])).text
        assert "registrert som levert tilbake" in page
        assert "Hos pasienten" not in page
        again = await page_client.post(
            f"{patient_page}/loans/{loan['id']}/return", data={"csrf": nurse.csrf}
        )
        assert again.status_code == 404  # no open loan of this patient any more
        second = await page_client.post(
            "/console/enrol", data={**form, "identity": new_identity_number(), "given": "Per"}
        )
        assert second.status_code == 303, second.text
    loans = await client.get(
        "/api/device-loans", params={"open": "true"}, headers=auth(centre.nurse_token)
    )
    [open_loan] = loans.json()
    assert open_loan["patient_id"] != loan["patient_id"]
