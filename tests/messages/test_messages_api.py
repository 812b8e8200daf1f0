"""Messages between a patient and their centre, through the real API on both databases:
a patient writes, the nurse reads and answers, each side sees what the other has read,
a resend is stored once, a photo is checked from its bytes, and a thread never leaves
in a research export."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from service.settings import Settings
from tests.factories import (
    EnrolledPatient,
    auth,
    create_centre,
    enrol,
    observation,
    queue_of,
    set_care_plan,
)
from tests.research.helpers import export, register_study, researcher

MINUTES = "https://fhir.dho.example/StructureDefinition/minutes-spent"
READ = "https://fhir.dho.example/StructureDefinition/message-read"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(40)


def message(patient_id: str, text: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Communication",
        "status": "completed",
        "subject": {"reference": f"Patient/{patient_id}"},
        "payload": [{"contentString": text}],
        **extra,
    }


def photo(data: bytes, content_type: str = "image/png") -> dict[str, Any]:
    encoded = base64.b64encode(data).decode()
    return {"contentAttachment": {"contentType": content_type, "data": encoded}}


async def _patient(client: httpx.AsyncClient, app: Any, settings: Settings) -> EnrolledPatient:
    return await enrol(client, settings, await create_centre(app, settings))


async def _send(client: httpx.AsyncClient, token: str, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/fhir/Communication", json=body, headers=auth(token))


async def _thread(client: httpx.AsyncClient, token: str, patient_id: str) -> list[dict[str, Any]]:
    found = await client.get(
        "/fhir/Communication", params={"patient": patient_id}, headers=auth(token)
    )
    assert found.status_code == 200, found.text
    return [e["resource"] for e in found.json().get("entry", [])]


async def test_a_patient_writes_the_nurse_reads_and_answers(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await _patient(client, app, settings)
    nurse = patient.centre.nurse_token
    body = message(patient.id, "Jeg er mer tungpusten i dag.")
    sent = await _send(client, patient.token, body | {"identifier": [{"value": "tab-1"}]})
    assert sent.status_code == 201, sent.text
    written = sent.json()
    assert written["sender"] == {"reference": f"Patient/{patient.id}"}
    assert written["recipient"] == [{"reference": f"Organization/{patient.centre.id}"}]
    again = await _send(client, patient.token, body | {"identifier": [{"value": "tab-1"}]})
    assert (again.status_code, again.json()["id"]) == (200, written["id"])

    [seen] = await _thread(client, nurse, patient.id)
    assert seen["payload"] == [{"contentString": "Jeg er mer tungpusten i dag."}]
    assert "extension" not in seen  # not read yet
    read = await client.post(f"/api/patients/{patient.id}/messages/read", headers=auth(nurse))
    assert read.json() == {"marked": 1}
    opened = (await client.get(f"/fhir/Communication/{written['id']}", headers=auth(nurse))).json()
    [marker] = [e for e in opened["extension"] if e["url"] == READ]
    by = {e["url"]: e.get("valueString") for e in marker["extension"]}
    assert by["by"] == f"nurse-{patient.centre.id}"

    reply = message(
        patient.id,
        "Vi ringer deg innen en time.",
        inResponseTo=[{"reference": f"Communication/{written['id']}"}],
        extension=[{"url": MINUTES, "valueDecimal": 4}],
    )
    answered = await _send(client, nurse, reply)
    assert answered.status_code == 201, answered.text
    assert answered.json()["recipient"] == [{"reference": f"Patient/{patient.id}"}]
    thread = await _thread(client, patient.token, patient.id)
    assert [m["payload"][0]["contentString"] for m in thread] == [
        "Vi ringer deg innen en time.",
        "Jeg er mer tungpusten i dag.",
    ]
    # The reply is nurse work the evaluation counts.
    used = await client.get(f"/api/patients/{patient.id}/resource-use", headers=auth(nurse))
    assert [(e["action"], e["minutes"]) for e in used.json()] == [("secure_message", 4.0)]
    # The patient reads the reply; the nurse's own message is not theirs to mark.
    mine = await client.post(
        f"/api/patients/{patient.id}/messages/read", headers=auth(patient.token)
    )
    assert mine.json() == {"marked": 1}


async def test_a_photo_is_checked_from_its_bytes(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await _patient(client, app, settings)
    ok = await _send(
        client,
        patient.token,
        message(patient.id, "Ankelen", payload=[{"contentString": "Ankelen"}, photo(PNG)]),
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["payload"][1]["contentAttachment"]["contentType"] == "image/png"
    cases = [
        (photo(b"%PDF-1.7 not an image"), 422, "Communication.payload[1].contentAttachment.data"),
        (photo(PNG, "image/jpeg"), 422, "Communication.payload[1].contentAttachment.contentType"),
        (
            photo(PNG + bytes(settings.message_attachment_max_bytes)),
            413,
            "Communication.payload[1].contentAttachment.data",
        ),
        (
            {"contentAttachment": {"url": "https://example.org/x.png"}},
            422,
            "Communication.payload[1].contentAttachment.data",
        ),
    ]
    for part, status, where in cases:
        body = message(patient.id, "x", payload=[{"contentString": "x"}, part])
        refused = await _send(client, patient.token, body)
        assert refused.status_code == status, refused.text
        assert refused.json()["issue"][0]["expression"] == [where]
    assert len(await _thread(client, patient.token, patient.id)) == 1


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"status": "in-progress"}, "Communication.status"),
        ({"sender": {"reference": "Organization/x"}}, "Communication.sender"),
        ({"payload": [{"contentString": "  "}]}, "Communication.payload"),
        ({"payload": [{"contentString": "x" * 4001}]}, "Communication.payload"),
        ({"subject": {"reference": "Group/1"}}, "Communication.subject"),
        ({"sent": "2999-01-01T00:00:00+01:00"}, "Communication.sent"),
        ({"extension": [{"url": MINUTES, "valueDecimal": 5}]}, "Communication.extension"),
        ({"inResponseTo": [{"reference": "Communication/nope"}]}, "Communication.inResponseTo"),
    ],
)
async def test_a_bad_message_names_its_element_and_stores_nothing(
    client: httpx.AsyncClient,
    app: Any,
    settings: Settings,
    change: dict[str, Any],
    where: str,
) -> None:
    patient = await _patient(client, app, settings)
    refused = await _send(client, patient.token, message(patient.id, "hei") | change)
    assert refused.status_code == 422, refused.text
    assert refused.json()["issue"][0]["expression"] == [where]
    assert await _thread(client, patient.token, patient.id) == []


async def test_a_thread_is_the_patients_and_their_centres_only(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await _patient(client, app, settings)
    other = await _patient(client, app, settings)
    written = (await _send(client, patient.token, message(patient.id, "hei"))).json()
    as_other = await _send(client, other.token, message(patient.id, "jeg er deg"))
    assert as_other.status_code == 422
    for token in (other.token, other.centre.nurse_token):
        read = await client.get(f"/fhir/Communication/{written['id']}", headers=auth(token))
        assert read.status_code == 404
        assert await _thread(client, token, patient.id) == []
        marked = await client.post(f"/api/patients/{patient.id}/messages/read", headers=auth(token))
        assert marked.status_code == 404
    for token in (patient.centre.admin_token, researcher(settings)[1]):
        assert (await _send(client, token, message(patient.id, "x"))).status_code == 403


async def test_a_thread_never_leaves_in_a_research_export(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await _patient(client, app, settings)
    secret = "Min datter heter Kari og bor i Bodø"
    assert (await _send(client, patient.token, message(patient.id, secret))).status_code == 201
    subject, token = researcher(settings)
    study = await register_study(client, patient.centre, [subject], k=1)
    done = await export(client, app, settings, study["id"], token)
    assert done.files, "the export wrote files"
    for name, content in done.files.items():
        assert b"Communication" not in content, name
        assert secret.encode() not in content, name
        assert b"Kari" not in content, name


async def test_a_patient_message_waits_in_the_queue_without_a_colour(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    """No open item: the message waits in the centre's list, and raises no item. With an
    open item, the item shows it. A nurse reading the thread clears both."""
    patient = await _patient(client, app, settings)
    await set_care_plan(client, patient, "copd")
    nurse = auth(patient.centre.nurse_token)
    for text in ("Hei", "Er dere der?"):
        assert (await _send(client, patient.token, message(patient.id, text))).status_code == 201
    waiting = (await client.get("/api/messages/waiting", headers=nurse)).json()
    assert [(w["patient_id"], w["waiting"]) for w in waiting] == [(patient.id, 2)]
    assert await queue_of(client, patient.centre) == []  # a message is not a clinical colour

    red = observation(patient.id, "59408-5", 82, "%")
    assert (
        await client.post("/fhir/Observation", json=red, headers=patient.headers)
    ).status_code == 201
    [item] = await queue_of(client, patient.centre)
    assert (item["severity"], item["messages_waiting"]) == ("red", 2)

    await client.post(f"/api/patients/{patient.id}/messages/read", headers=nurse)
    [item] = await queue_of(client, patient.centre)
    assert item["messages_waiting"] == 0
    assert (await client.get("/api/messages/waiting", headers=nurse)).json() == []
    other = await _patient(client, app, settings)
    assert (
        await client.get("/api/messages/waiting", headers=auth(other.centre.nurse_token))
    ).json() == []
