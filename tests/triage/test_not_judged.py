"""A reading nobody judges is never answered with a colour.

A paused patient who measures a glucose of 1.6 mmol/L must not hear "your readings are as
usual": nobody at the centre is watching. The answer says that follow-up is paused and that
the self-care plan and the emergency numbers stand, on every path that gives a verdict:
the POST answer, a repeat of it, a Bundle's entries, a read and a search, also after the
patient is active again.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import (
    Centre,
    EnrolledPatient,
    auth,
    blood_pressure,
    create_centre,
    enrol,
    gateway_bundle,
    observation,
    queue_of,
    set_care_plan,
)

TRIAGE = "https://fhir.dho.example/CodeSystem/triage-colour"
FLAGS = "https://fhir.dho.example/CodeSystem/dho-flags"
TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"


def triage_concept(resource: dict[str, Any]) -> dict[str, Any]:
    """Our interpretation: the one whose coding is a colour or says it is not triaged."""
    ours = [
        concept
        for concept in resource.get("interpretation", [])
        if any(c["system"] in (TRIAGE, FLAGS) for c in concept.get("coding", []))
    ]
    assert len(ours) == 1, resource.get("interpretation")
    return ours[0]


def assert_not_judged(resource: dict[str, Any], why: str) -> None:
    concept = triage_concept(resource)
    assert not any(c["system"] == TRIAGE for c in concept["coding"]), "no colour at all"
    assert [(c["code"], why in c["display"]) for c in concept["coding"]] == [("not-triaged", True)]
    english = concept["_text"]["extension"][0]["extension"][1]["valueString"]
    for text in (concept["text"], english):
        assert "som vanlig" not in text
        assert "as usual" not in text
        assert "113" in text
        assert "116 117" in text
    assert "egenbehandlingsplan" in concept["text"].lower()
    assert "self-care plan" in english


def glucose(patient_id: str, value: float, **kw: Any) -> dict[str, Any]:
    return observation(patient_id, "14743-9", value, "mmol/L", **kw)


async def _paused_diabetes_patient(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> tuple[Centre, EnrolledPatient]:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "diabetes")
    await _set_status(client, patient, "paused")
    return centre, patient


async def _set_status(client: httpx.AsyncClient, patient: EnrolledPatient, status: str) -> None:
    response = await client.post(
        f"/api/patients/{patient.id}/status",
        json={"status": status, "reason": "hospital stay"},
        headers=auth(patient.centre.nurse_token),
    )
    assert response.status_code == 200, response.text


async def test_a_paused_patient_with_a_dangerous_glucose_is_told_nobody_is_watching(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    centre, patient = await _paused_diabetes_patient(client, app, settings)
    response = await client.post(
        "/fhir/Observation", json=glucose(patient.id, 1.6), headers=patient.headers
    )
    assert response.status_code == 201, response.text
    assert_not_judged(response.json(), "paused")
    assert "pause" in triage_concept(response.json())["text"]
    assert await queue_of(client, centre) == []


async def test_the_same_answer_on_a_repeat_a_read_and_a_search_also_after_resuming(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    _, patient = await _paused_diabetes_patient(client, app, settings)
    reading = glucose(patient.id, 1.6, identifier="meter-1-reading-7")
    first = await client.post("/fhir/Observation", json=reading, headers=patient.headers)
    again = await client.post("/fhir/Observation", json=reading, headers=patient.headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert_not_judged(again.json(), "paused")

    await _set_status(client, patient, "active")
    read = await client.get(f"/fhir/Observation/{first.json()['id']}", headers=patient.headers)
    assert_not_judged(read.json(), "paused")
    found = await client.get(
        "/fhir/Observation", params={"patient": patient.id}, headers=patient.headers
    )
    [entry] = found.json()["entry"]
    assert_not_judged(entry["resource"], "paused")


async def test_an_active_patients_reading_after_resuming_is_judged_again(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    centre, patient = await _paused_diabetes_patient(client, app, settings)
    await _set_status(client, patient, "active")
    response = await client.post(
        "/fhir/Observation", json=glucose(patient.id, 1.6), headers=patient.headers
    )
    codes = [c["code"] for c in triage_concept(response.json())["coding"]]
    assert codes == ["red", "critical"]
    assert [i["severity"] for i in await queue_of(client, centre)] == ["red"]


async def test_a_patient_without_a_care_plan_is_told_the_reading_is_not_assessed(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    response = await client.post(
        "/fhir/Observation", json=blood_pressure(patient.id, 190, 100), headers=patient.headers
    )
    assert response.status_code == 201, response.text
    assert_not_judged(response.json(), "no care plan")
    read = await client.get(f"/fhir/Observation/{response.json()['id']}", headers=patient.headers)
    assert_not_judged(read.json(), "no care plan")


async def test_a_bundle_asked_for_representation_carries_each_verdict(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    centre = await create_centre(app, settings)
    active = await enrol(client, settings, centre)
    await set_care_plan(client, active, "diabetes")
    _, paused = await _paused_diabetes_patient(client, app, settings)
    prefer = {"Prefer": "return=representation"}
    for patient, expected in ((active, "red"), (paused, None)):
        bundle = gateway_bundle(
            patient.identity_number, [glucose(patient.id, 1.6)], f"meter-{patient.id[:8]}"
        )
        response = await client.post("/fhir", json=bundle, headers={**patient.headers, **prefer})
        assert response.status_code == 200, response.text
        [stored] = [e for e in response.json()["entry"] if "resource" in e]
        assert stored["response"]["status"] == "201 Created"
        if expected is None:
            assert_not_judged(stored["resource"], "paused")
        else:
            assert triage_concept(stored["resource"])["coding"][0]["code"] == expected


async def test_a_bundle_without_prefer_answers_as_before_without_resources(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    _, patient = await _paused_diabetes_patient(client, app, settings)
    bundle = gateway_bundle(patient.identity_number, [glucose(patient.id, 1.6)], "meter-x1")
    response = await client.post("/fhir", json=bundle, headers=patient.headers)
    assert response.status_code == 200, response.text
    assert not any("resource" in e for e in response.json()["entry"])
