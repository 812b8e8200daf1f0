"""Messages in the nurse console: the queue says a message waits (on the item's row, or
in its own list when the patient has no item), the patient page shows the thread and
marks it read, and the nurse answers with a plain form post the patient then reads."""

from __future__ import annotations

from typing import Any

import httpx

from service.settings import Settings
from tests.console.helpers import browser, hidden_fields, nurse_session
from tests.factories import create_centre, enrol, observation, set_care_plan
from tests.messages.test_messages_api import message


async def test_a_nurse_sees_the_waiting_message_reads_it_and_answers(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    quiet, red = await enrol(client, settings, centre), await enrol(client, settings, centre)
    await set_care_plan(client, red, "copd")
    low = observation(red.id, "59408-5", 82, "%")
    assert (
        await client.post("/fhir/Observation", json=low, headers=red.headers)
    ).status_code == 201
    for patient, text in ((quiet, "Kan jeg ta en pause i helgen?"), (red, "Jeg føler meg dårlig")):
        sent = await client.post(
            "/fhir/Communication", json=message(patient.id, text), headers=patient.headers
        )
        assert sent.status_code == 201, sent.text

    nurse = nurse_session(settings, [centre.id])
    async with browser(app, nurse) as page_client:
        queue_html = (await page_client.get("/console")).text
        row = queue_html[queue_html.index(f'href="/console/patients/{red.id}"') :]
        assert "Melding venter (1)" in row.split("</tr>")[0]
        waiting = queue_html[queue_html.index('id="h-waiting"') :]
        assert f"/console/patients/{quiet.id}#messages" in waiting

        page = await page_client.get(f"/console/patients/{quiet.id}")
        assert page.status_code == 200
        assert "Kan jeg ta en pause i helgen?" in page.text
        assert ">ny<" in page.text  # new when the nurse opened the page
        form = hidden_fields(page.text)
        reply = {**form, "text": "Ja, god helg!", "minutes": "2"}
        posted = await page_client.post(f"/console/patients/{quiet.id}/messages", data=reply)
        assert posted.status_code == 303, posted.text
        again = await page_client.post(f"/console/patients/{quiet.id}/messages", data=reply)
        assert again.status_code == 303  # the same form twice is one message
        empty = await page_client.post(
            f"/console/patients/{quiet.id}/messages", data={**form, "text": "  "}
        )
        assert empty.status_code == 400
        assert 'href="#message_text"' in empty.text

        after = (await page_client.get("/console")).text
        assert f"/console/patients/{quiet.id}#messages" not in after  # read: no longer waiting

    thread = await client.get(
        "/fhir/Communication", params={"patient": quiet.id}, headers=quiet.headers
    )
    texts = [e["resource"]["payload"][0]["contentString"] for e in thread.json()["entry"]]
    assert texts == ["Ja, god helg!", "Kan jeg ta en pause i helgen?"]
    [mine] = [e["resource"] for e in thread.json()["entry"] if "extension" in e["resource"]]
    assert (
        mine["payload"][0]["contentString"] == "Kan jeg ta en pause i helgen?"
    )  # read by the nurse
