"""Every measurement reads back as sent, with its canonical value beside it.

A consumer of a weight sent in pounds must not have to redo the UCUM conversion the
service already made: each normalised quantity carries the canonical-quantity extension
(fhir/README.md), in the answer to the POST, in reads and in searches.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fhir.resources.R4B.observation import Observation

from service.settings import Settings
from tests.factories import EnrolledPatient, blood_pressure, create_centre, enrol, observation

CANONICAL = "https://fhir.dho.example/StructureDefinition/canonical-quantity"
UCUM = "http://unitsofmeasure.org"
MDC = "urn:iso:std:iso:11073:10101"
DATA = Path(__file__).resolve().parents[1] / "data" / "phd"


def canonical(quantity: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["valueQuantity"] for e in quantity.get("extension", []) if e["url"] == CANONICAL]


async def _three_answers(
    client: httpx.AsyncClient, patient: EnrolledPatient, resource: dict[str, Any]
) -> list[dict[str, Any]]:
    """The reading as the POST answers it, as a read and as a search return it; each
    must also parse as an R4B Observation."""
    posted = await client.post("/fhir/Observation", json=resource, headers=patient.headers)
    assert posted.status_code == 201, posted.text
    read = await client.get(f"/fhir/Observation/{posted.json()['id']}", headers=patient.headers)
    assert read.status_code == 200, read.text
    search = await client.get(
        "/fhir/Observation", params={"patient": patient.id}, headers=patient.headers
    )
    assert search.status_code == 200, search.text
    found = [e["resource"] for e in search.json()["entry"]]
    answers = [posted.json(), read.json(), *(r for r in found if r["id"] == posted.json()["id"])]
    assert len(answers) == 3
    for answer in answers:
        Observation.model_validate(answer)
    return answers


@pytest.mark.parametrize(
    ("code", "value", "unit", "expected", "expected_unit"),
    [
        ("29463-7", 176.4, "[lb_av]", 176.4 * 0.45359237, "kg"),
        ("8310-5", 100.4, "[degF]", 38.0, "Cel"),
        ("15074-8", 180, "mg/dL", 180 / 18.016, "mmol/L"),
        ("8867-4", 64, "/min", 64, "/min"),
    ],
)
async def test_a_measurement_carries_its_canonical_value_beside_what_was_sent(
    client: httpx.AsyncClient,
    app: Any,
    settings: Settings,
    code: str,
    value: float,
    unit: str,
    expected: float,
    expected_unit: str,
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    for answer in await _three_answers(client, patient, observation(patient.id, code, value, unit)):
        quantity = answer["valueQuantity"]
        assert (quantity["value"], quantity["code"]) == (value, unit)
        [canon] = canonical(quantity)
        assert canon["value"] == pytest.approx(expected, abs=1e-4)
        assert (canon["code"], canon["unit"], canon["system"]) == (
            expected_unit,
            expected_unit,
            UCUM,
        )


async def test_blood_pressure_components_in_kpa_carry_mm_hg(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    resource = blood_pressure(patient.id, 16.0, 10.7, "kPa")
    # Mean arterial pressure: kept verbatim, not normalised, so no canonical value.
    resource["component"].append(
        {
            "code": {"coding": [{"system": MDC, "code": "150023"}]},
            "valueQuantity": {"value": 12.5, "system": UCUM, "code": "kPa"},
        }
    )
    for answer in await _three_answers(client, patient, resource):
        systolic, diastolic, mean = (c["valueQuantity"] for c in answer["component"])
        assert [(q["value"], q["code"]) for q in (systolic, diastolic)] == [
            (16.0, "kPa"),
            (10.7, "kPa"),
        ]
        assert [c["code"] for c in canonical(systolic) + canonical(diastolic)] == ["mm[Hg]"] * 2
        assert canonical(systolic)[0]["value"] == pytest.approx(16.0 * 7.50062, abs=1e-3)
        assert canonical(diastolic)[0]["value"] == pytest.approx(10.7 * 7.50062, abs=1e-3)
        assert canonical(mean) == []
        assert "valueQuantity" not in answer


async def test_the_igs_compound_glucose_carries_it_on_its_component(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    """The PHD IG's compound glucose: an MDC-coded component under a private code."""
    patient = await enrol(client, settings, await create_centre(app, settings))
    resource = json.loads((DATA / "compound-observation-glucose.json").read_text())
    for name in ("id", "performer", "device", "extension"):
        resource.pop(name)
    resource["subject"] = {"reference": f"Patient/{patient.id}"}
    resource["effectiveDateTime"] = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    for answer in await _three_answers(client, patient, resource):
        quantities = [c["valueQuantity"] for c in answer["component"] if "valueQuantity" in c]
        [sent] = quantities
        [canon] = canonical(sent)
        assert canon["code"] == "mmol/L"
        factor = {"mg/dL": 1 / 18.016, "mmol/L": 1.0}[sent["code"]]
        assert canon["value"] == pytest.approx(sent["value"] * factor, abs=1e-4)


async def test_a_canonical_value_sent_by_a_client_is_not_echoed(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    resource = observation(patient.id, "29463-7", 80, "kg")
    lie = {"url": CANONICAL, "valueQuantity": {"value": 1, "system": UCUM, "code": "kg"}}
    resource["valueQuantity"]["extension"] = [lie]
    for answer in await _three_answers(client, patient, resource):
        assert [q["value"] for q in canonical(answer["valueQuantity"])] == [80]


async def test_device_observations_carry_no_canonical_value(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    """A battery level is a quantity ingest does not normalise: no extension."""
    patient = await enrol(client, settings, await create_centre(app, settings))
    battery = observation(patient.id, "x", 90, "%")
    battery["code"] = {"coding": [{"system": MDC, "code": "67996"}]}
    for answer in await _three_answers(client, patient, battery):
        assert canonical(answer["valueQuantity"]) == []
