"""What a nurse sees of the journal in the console: the resolved item's note for the
patient's record, pending, sent, failed with the receiver's reason, stopped, cancelled;
in both languages. The state is the API's (``journal`` of the queue item)."""

from __future__ import annotations

import re
from typing import Any

import httpx

from service.console.i18n import LANGS, catalogue
from service.console.session import LANG_COOKIE
from service.journal import sender as journal_sender
from service.journal.models import JournalState
from service.settings import Settings
from tests.console.helpers import browser, nurse_session
from tests.factories import Centre, EnrolledPatient, auth, create_centre, enrol, set_care_plan
from tests.journal.harness import Receiver, fast, journal_to, red_item_resolved


async def _patient_page(
    app: Any, settings: Settings, centre: Centre, patient: EnrolledPatient, lang: str = "nb"
) -> str:
    async with browser(app, nurse_session(settings, [centre.id])) as page_client:
        page_client.cookies.set(LANG_COOKIE, lang, domain="dho.test", path="/")
        page = await page_client.get(f"/console/patients/{patient.id}")
    assert page.status_code == 200, page.text
    return page.text


def _journal_of(html: str) -> tuple[str, str]:
    """The state the panel names, and its words as a reader gets them (tags dropped,
    line breaks and runs of spaces as one space)."""
    found = re.search(
        r'<p class="journal" id="item-journal" data-journal-state="(\w+)">(.*?)</p>', html, re.S
    )
    assert found is not None, "no journal state on the page"
    text = re.sub(r"<[^>]+>", "", found.group(2).replace("<br>", "\n"))
    words = re.sub(r"\s+", " ", text).strip()
    return found.group(1), words


async def _api_state(client: httpx.AsyncClient, centre: Centre, item_id: str) -> str:
    item = await client.get(f"/api/queue/{item_id}", headers=auth(centre.nurse_token))
    return str(item.json()["journal"]["state"])


async def _send(app: Any, settings: Settings) -> None:
    await journal_sender.send_due(app.state.dho.engine, fast(settings), app.state.dho.vault)


async def _patient(
    client: httpx.AsyncClient, app: Any, settings: Settings, url: str, **config: Any
) -> Any:
    centre = await create_centre(app, settings)
    await journal_to(client, centre, url, **config)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "heart_failure")
    return centre, patient


async def test_the_item_panel_shows_the_note_pending_then_sent_then_failed_with_its_reason(
    client: httpx.AsyncClient, app: Any, settings: Settings, fresh_receiver: Receiver
) -> None:
    centre, patient = await _patient(client, app, settings, fresh_receiver.url)
    before = await _patient_page(app, settings, centre, patient)
    assert 'id="item-journal"' not in before  # no item, no note: nothing shown

    first = await red_item_resolved(client, patient)
    state, words = _journal_of(await _patient_page(app, settings, centre, patient))
    assert (state, words) == ("pending", "Journalnotat: venter på sending")
    assert await _api_state(client, centre, first) == state  # the API's state, as the page's

    await _send(app, settings)
    state, words = _journal_of(await _patient_page(app, settings, centre, patient))
    assert state == "sent"
    assert re.fullmatch(
        r"Journalnotat: sendt til pasientjournalen \d\d\.\d\d\.\d{4} \d\d:\d\d", words
    ), words
    state, words = _journal_of(await _patient_page(app, settings, centre, patient, "en"))
    assert re.fullmatch(
        r"Note to the patient record: sent to the patient record at \d\d/\d\d/\d{4} \d\d:\d\d",
        words,
    ), words

    fresh_receiver.mode("fail500")
    second = await red_item_resolved(client, patient)
    await _send(app, settings)
    state, words = _journal_of(await _patient_page(app, settings, centre, patient))
    assert state == "failed"
    assert words == (
        "Journalnotat: feilet, prøves igjen Årsak: HTTP 500: error transient: the record is busy"
    )

    # An admin cancels it (the record got the note another way): the panel says so, and
    # nothing is left due for the next test's worker.
    [message] = [
        m
        for m in (
            await client.get(
                "/api/journal", params={"state": "failed"}, headers=auth(centre.admin_token)
            )
        ).json()["items"]
        if m["item_id"] == second
    ]
    cancelled = await client.post(
        f"/api/journal/{message['id']}/cancel", headers=auth(centre.admin_token)
    )
    assert cancelled.status_code == 200, cancelled.text
    state, words = _journal_of(await _patient_page(app, settings, centre, patient))
    assert (state, words) == ("cancelled", "Journalnotat: avbrutt")


async def test_a_note_the_record_refuses_is_shown_stopped_with_the_reason_and_what_to_do(
    client: httpx.AsyncClient, app: Any, settings: Settings, fresh_receiver: Receiver
) -> None:
    # Items only: a refused start-of-follow-up note would hold the item's back.
    centre, patient = await _patient(
        client, app, settings, fresh_receiver.url, kinds=["item_resolved"]
    )
    fresh_receiver.mode("ok", reject=[patient.identity_number])
    item_id = await red_item_resolved(client, patient)
    await _send(app, settings)
    html = await _patient_page(app, settings, centre, patient, "en")
    state, words = _journal_of(html)
    assert state == "dead"
    assert words == (
        "Note to the patient record: stopped "
        "Reason: HTTP 422: error business-rule: the patient is unknown here "
        "(Patient.identifier) "
        "The note will not be sent by itself. "
        "An administrator must send it again or cancel it."
    )
    assert await _api_state(client, centre, item_id) == "dead"
    assert patient.identity_number not in html


def test_every_journal_state_has_words_in_both_languages() -> None:
    """The panel names the state by ``journal.state.<state>``: a state without words
    would show its key to the nurse."""
    for lang in LANGS:
        texts = catalogue(lang)
        assert [s.value for s in JournalState if f"journal.state.{s.value}" not in texts] == []
