"""The pathway's notes: the start, pause, resume and end of follow-up and each care-plan
change reach the patient's record as short documents, in the order they happened, and
a centre chooses which kinds its record wants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from service import demo_work
from service.journal import document, notes
from service.journal import sender as journal_sender
from service.journal.models import JournalKind
from service.queue import service as queue
from service.queue.schemas import Outcome, ResolveRequest
from tests.console.helpers import browser, nurse_session
from tests.factories import (
    auth,
    blood_pressure,
    create_centre,
    enrol,
    new_identity_number,
    queue_of,
    set_care_plan,
)
from tests.journal.harness import Receiver, fast, journal_to, messages_of, red_item_resolved

ALL_KINDS = [k.value for k in JournalKind]


async def _status(
    client: httpx.AsyncClient, patient: Any, status: str, reason: str = "Innlagt på sykehus"
) -> None:
    answer = await client.post(
        f"/api/patients/{patient.id}/status",
        json={"status": status, "reason": reason},
        headers=auth(patient.centre.nurse_token),
    )
    assert answer.status_code == 200, answer.text


async def _deliver(app: Any, settings: Any) -> None:
    await journal_sender.send_due(app.state.dho.engine, fast(settings), app.state.dho.vault)


def _resources(message: Any) -> dict[str, dict[str, Any]]:
    return {e["resource"]["resourceType"]: e["resource"] for e in message.document["entry"]}


def _note_text(message: Any) -> str:
    composition = _resources(message)["Composition"]
    return "".join(s["text"]["div"] for s in composition["section"])


async def test_enrolment_and_the_end_of_follow_up_reach_the_record_as_two_notes_in_order(
    client: httpx.AsyncClient, app: Any, settings: Any, fresh_receiver: Receiver
) -> None:
    centre = await create_centre(app, settings)
    config = await journal_to(client, centre, fresh_receiver.url)
    assert config["kinds"] == ALL_KINDS  # every kind unless the centre says otherwise
    patient = await enrol(client, settings, centre)
    await _status(client, patient, "ended", reason="Flyttet til sykehjem")

    started, ended = await messages_of(app, centre.id)
    assert [(m.kind, m.item_id, m.state) for m in (started, ended)] == [
        ("follow_up_started", None, "pending"),
        ("follow_up_ended", None, "pending"),
    ]
    composition = _resources(started)["Composition"]
    assert composition["title"] == "Digital hjemmeoppfølging: oppfølging startet"
    assert composition["event"][0]["code"][0]["coding"][0]["code"] == "follow_up_started"
    # Signed by the nurse who enrolled the patient, as the resolve's note is.
    assert _resources(started)["Practitioner"]["identifier"][0]["value"] == f"nurse-{centre.id}"
    assert "Årsak: Flyttet til sykehjem" in _note_text(ended)
    # The outbox holds no identity number, as for a resolve.
    assert patient.identity_number not in str(started.document)

    await _deliver(app, settings)
    assert [m.state for m in await messages_of(app, centre.id)] == ["sent", "sent"]
    stored = [r for r in fresh_receiver.received() if r["patient"] == patient.identity_number]
    assert [r["identifier"] for r in stored] == [started.bundle_identifier, ended.bundle_identifier]
    assert [r["sections"] for r in stored] == [["note", "signature"]] * 2


async def test_pause_resume_and_care_plan_changes_each_get_a_note_and_nothing_else_does(
    client: httpx.AsyncClient, app: Any, settings: Any, fresh_receiver: Receiver
) -> None:
    centre = await create_centre(app, settings)
    await journal_to(client, centre, fresh_receiver.url)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "heart_failure", reason="Oppstart")
    await _status(client, patient, "paused")
    await _status(client, patient, "paused", reason="Fortsatt innlagt")  # no change: no note
    await _status(client, patient, "active", reason="Utskrevet")
    await _status(client, patient, "active", reason="Ny måleklokke")  # restarts the clock only
    await set_care_plan(client, patient, "copd", reason="Ny diagnose")
    answer = await client.post(
        f"/api/patients/{patient.id}/care-plan/preview",
        json={"protocol": "copd", "days": 7},
        headers=auth(centre.nurse_token),
    )
    assert answer.status_code == 200, answer.text  # a preview stores nothing: no note

    found = await messages_of(app, centre.id)
    assert [m.kind for m in found] == [
        "follow_up_started",
        "care_plan_changed",
        "follow_up_paused",
        "follow_up_resumed",
        "care_plan_changed",
    ]
    assert "Behandlingsplan opprettet" in _note_text(found[1])
    assert "Protokoll: Hjertesvikt." in _note_text(found[1])
    assert "Behandlingsplan endret (versjon 2)" in _note_text(found[4])
    assert "Protokoll: KOLS." in _note_text(found[4])
    assert "Årsak: Utskrevet" in _note_text(found[3])

    await _deliver(app, settings)
    stored = [r for r in fresh_receiver.received() if r["patient"] == patient.identity_number]
    assert [r["identifier"] for r in stored] == [m.bundle_identifier for m in found]


async def test_a_centre_that_journals_only_items_gets_no_pathway_notes(
    client: httpx.AsyncClient, app: Any, settings: Any, fresh_receiver: Receiver
) -> None:
    centre = await create_centre(app, settings)
    await journal_to(client, centre, fresh_receiver.url, kinds=["item_resolved"])
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "heart_failure")
    await _status(client, patient, "paused")
    await _status(client, patient, "active")
    assert await messages_of(app, centre.id) == []
    item_id = await red_item_resolved(client, patient)
    assert [(m.kind, m.item_id) for m in await messages_of(app, centre.id)] == [
        ("item_resolved", item_id)
    ]
    await _deliver(app, settings)  # nothing left due for the next test's worker


async def test_a_centre_that_journals_only_the_end_gets_no_item_and_no_other_note(
    client: httpx.AsyncClient, app: Any, settings: Any, fresh_receiver: Receiver
) -> None:
    centre = await create_centre(app, settings)
    await journal_to(client, centre, fresh_receiver.url, kinds=["follow_up_ended"])
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "heart_failure")
    await red_item_resolved(client, patient)
    await _status(client, patient, "ended")
    assert [m.kind for m in await messages_of(app, centre.id)] == ["follow_up_ended"]
    await _deliver(app, settings)


async def test_a_disabled_receiver_journals_no_pathway_note(
    client: httpx.AsyncClient, app: Any, settings: Any, fresh_receiver: Receiver
) -> None:
    centre = await create_centre(app, settings)
    await journal_to(client, centre, fresh_receiver.url, enabled=False)
    patient = await enrol(client, settings, centre)
    await _status(client, patient, "ended")
    assert await messages_of(app, centre.id) == []


@pytest.mark.parametrize(
    ("kinds", "field"),
    [
        ([], "kinds"),
        (["item_resolved", "follow_up_restarted"], "kinds"),
        ("item_resolved", "kinds"),
    ],
)
async def test_bad_kinds_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, app: Any, settings: Any, kinds: Any, field: str
) -> None:
    centre = await create_centre(app, settings)
    before = await journal_to(
        client, centre, "http://127.0.0.1:9/fhir/Bundle", kinds=["care_plan_changed"]
    )
    body = {"enabled": True, "receiver_url": "http://127.0.0.1:9/fhir/Bundle", "kinds": kinds}
    answer = await client.put(
        f"/api/centres/{centre.id}/journal-config", json=body, headers=auth(centre.admin_token)
    )
    assert answer.status_code == 422, answer.text
    assert field in answer.text
    after = await client.get(
        f"/api/centres/{centre.id}/journal-config", headers=auth(centre.admin_token)
    )
    assert after.json()["kinds"] == before["kinds"] == ["care_plan_changed"]


async def test_kinds_are_kept_once_each_in_the_catalogue_order(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    centre = await create_centre(app, settings)
    kinds = ["follow_up_ended", "item_resolved", "follow_up_ended", "follow_up_started"]
    written = await journal_to(client, centre, "http://127.0.0.1:9/fhir/Bundle", kinds=kinds)
    assert written["kinds"] == ["item_resolved", "follow_up_started", "follow_up_ended"]


def test_a_note_without_a_person_is_signed_by_the_centre_and_validates() -> None:
    """A system client's change (no person): no Practitioner, the Organization is the
    author. Pure: the builder takes rows and does no I/O."""
    at = datetime(2026, 3, 14, 7, 10, tzinfo=UTC)
    patient = SimpleNamespace(
        family_name="Testesen", given_name="Kari Anne", sex="female", birth_date=at.date()
    )
    centre = SimpleNamespace(name="Salten", org_number="974795787", time_zone="Europe/Oslo")
    note = notes.status_changed("active", "paused", "Ferie", at)
    assert note is not None
    body = notes.build(
        bundle_identifier=document.new_identifier(),
        note=note,
        patient=patient,
        centre=centre,
        author=None,
        now=at,
    )
    sent = document.with_identity(body, "urn:oid:2.16.578.1.12.4.1.4.1", "13097248022")
    document.validate(sent)
    types = [e["resource"]["resourceType"] for e in sent["entry"]]
    assert types == ["Composition", "Patient", "Organization"]
    composition = sent["entry"][0]["resource"]
    assert composition["author"] == [{"reference": sent["entry"][2]["fullUrl"]}]
    assert "satt på pause 14.03.2026 08:10" in composition["section"][0]["text"]["div"]
    assert "Registrert av Salten 14.03.2026 08:10." in composition["section"][1]["text"]["div"]
    assert notes.status_changed("paused", "paused", "still", at) is None


async def test_the_console_enrolment_journals_the_start_before_the_first_care_plan(
    client: httpx.AsyncClient, app: Any, settings: Any, fresh_receiver: Receiver
) -> None:
    """One transaction makes both (the form takes the protocol): the record must get the
    start first. A second enrolment refused for its kit (already lent) leaves no note:
    the savepoint that takes the patient back takes the note with it."""
    centre = await create_centre(app, settings)
    await journal_to(client, centre, fresh_receiver.url)
    nurse = nurse_session(settings, [centre.id])
    form = {
        "csrf": nurse.csrf,
        "given": "Ola",
        "family": "Nordmann",
        "municipality": "1804",
        "centre": centre.id,
        "protocol": "copd",
        "kit": f"KIT-{centre.id}",
    }
    async with browser(app, nurse) as page_client:
        enrolled = await page_client.post(
            "/console/enrol", data={**form, "identity": new_identity_number()}
        )
        assert enrolled.status_code == 303, enrolled.text
        refused = await page_client.post(
            "/console/enrol", data={**form, "identity": new_identity_number()}
        )
        assert refused.status_code == 409, refused.text
    found = await messages_of(app, centre.id)
    assert [m.kind for m in found] == ["follow_up_started", "care_plan_changed"]
    await _deliver(app, settings)
    received = [r["identifier"] for r in fresh_receiver.received()]
    assert [i for i in received if i in {m.bundle_identifier for m in found}] == [
        m.bundle_identifier for m in found
    ]


async def test_a_resolve_dated_back_does_not_overtake_the_patients_earlier_notes(
    client: httpx.AsyncClient, app: Any, settings: Any, fresh_receiver: Receiver
) -> None:
    """The demo resolves its items at the moments it makes up; the outbox keeps the
    order the rows were written in, so the start of follow-up still comes first."""
    centre = await create_centre(app, settings)
    await journal_to(client, centre, fresh_receiver.url)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "hypertension")
    reading = blood_pressure(patient.id, 196, 101)
    answer = await client.post("/fhir/Observation", json=reading, headers=patient.headers)
    assert answer.status_code == 201, answer.text
    [item] = await queue_of(client, centre)
    request = ResolveRequest(outcome=Outcome.handled_by_centre, minutes=5)
    dated_back = datetime.now(UTC) - timedelta(hours=2)
    async with app.state.dho.engine.begin() as conn:
        await queue.resolve(conn, demo_work.nurse(centre.id), item["id"], request, dated_back)
    found = await messages_of(app, centre.id)
    assert [m.kind for m in found] == [
        "follow_up_started",
        "care_plan_changed",
        "item_resolved",
    ]
    # The document keeps the moment it was given.
    composition = _resources(found[2])["Composition"]
    assert composition["date"] == dated_back.isoformat().replace("+00:00", "Z")
    await _deliver(app, settings)
