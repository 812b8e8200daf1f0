"""Data minimisation and small numbers, judged from the written files: only the columns a
study chose leave (in every format, FHIR included), extreme values are top- and
bottom-coded where the study says so, and aggregate cells of fewer than five patients
keep their labels but lose their counts."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from service.settings import Settings
from tests.factories import (
    EnrolledPatient,
    auth,
    blood_pressure,
    create_centre,
    enrol,
    observation,
    set_care_plan,
)
from tests.research.helpers import export, register_study, researcher, study_body

NOW = datetime.now(UTC).replace(microsecond=0)


async def _post(client: httpx.AsyncClient, patient: EnrolledPatient, resource: Any) -> None:
    response = await client.post("/fhir/Observation", json=resource, headers=patient.headers)
    assert response.status_code == 201, response.text


def _ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


async def test_only_the_chosen_columns_leave_in_every_format(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "heart_failure")
    await _post(client, patient, observation(patient.id, "8867-4", 71, effective=_ago(30)))
    await _post(client, patient, blood_pressure(patient.id, 131, 82, effective=_ago(20)))
    await _post(client, patient, blood_pressure(patient.id, 190, 97, effective=_ago(2)))
    subject, token = researcher(settings)
    study = await register_study(
        client, centre, [subject], k=1, variables=["sex", "readings.value"]
    )
    assert study["variables"] == ["sex", "readings.value"]
    result = await export(client, app, settings, study["id"], token)

    keys = ["reading", "patient", "measurement", "code", "status", "effective_at"]
    expected = [*keys[:5], "value", "unit", "effective_at"]
    for rows in (result.csv("readings"), result.parquet("readings")):
        assert len(rows) == 3
        assert list(rows[0]) == expected
    assert list(result.csv("patients")[0]) == ["patient", "sex"]
    # The panel's parts were not chosen: no systolic anywhere, not even in FHIR.
    observations = result.ndjson("Observation")
    assert len(observations) == 3
    assert not any("component" in o for o in observations)
    assert sorted(o["valueQuantity"]["value"] for o in observations if "valueQuantity" in o) == [71]
    # The red reading raised a finding and an item: neither table leaves.
    written = set(result.files)
    for table in ("findings", "items", "resource_use", "aggregates"):
        assert f"{table}.csv" not in written
    assert not {"DetectedIssue.ndjson", "Task.ndjson"} & written
    dictionary = result.csv("data-dictionary")
    assert {(r["table"], r["column"]) for r in dictionary} == {
        ("patients", "patient"),
        ("patients", "sex"),
        *(("readings", c) for c in expected),
    }


async def test_a_study_cannot_choose_a_column_that_does_not_exist(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    subject, _ = researcher(settings)
    body = study_body(centre, [subject])
    for variables in (["readings.identifier"], ["patients.name"], ["readings.note"]):
        response = await client.post(
            "/api/studies", json={**body, "variables": variables}, headers=auth(centre.admin_token)
        )
        assert response.status_code == 422, response.text
        assert "body.variables" in response.text
    for limits, status, said in (
        ({"height": {"high": 2}}, 400, "value_limits"),
        ({"blood_pressure": {"high": 200}}, 400, "value_limits"),
        ({"body_weight": {"low": 150, "high": 40}}, 422, "body.value_limits.body_weight"),
        ({"body_weight": {}}, 422, "body.value_limits.body_weight"),
    ):
        response = await client.post(
            "/api/studies", json={**body, "value_limits": limits}, headers=auth(centre.admin_token)
        )
        assert response.status_code == status, response.text
        assert said in response.text


async def test_extreme_values_are_coded_at_the_study_limits_in_every_file(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "heart_failure")
    # The last two weighings are a gain of 2.8 kg in 12 hours: a weight-gain finding.
    for hours, kilos in ((72, 181.3), (48, 96.0), (24, 38.2), (12, 41.0)):
        weight = observation(patient.id, "29463-7", kilos, "kg", effective=_ago(hours))
        await _post(client, patient, weight)
    await _post(client, patient, blood_pressure(patient.id, 236, 128, effective=_ago(3)))
    subject, token = researcher(settings)
    limits = {
        "body_weight": {"low": 45, "high": 150},
        "systolic": {"high": 200},
        "diastolic": {"high": 110},
    }
    study = await register_study(client, centre, [subject], k=1, value_limits=limits)
    assert study["value_limits"]["body_weight"] == {"low": 45.0, "high": 150.0}
    result = await export(client, app, settings, study["id"], token)

    for rows in (result.csv("readings"), result.parquet("readings")):
        weights = sorted(float(r["value"]) for r in rows if r["measurement"] == "body_weight")
        assert weights == [45.0, 45.0, 96.0, 150.0]
        [panel] = [r for r in rows if r["measurement"] == "blood_pressure"]
        assert (float(panel["systolic"]), float(panel["diastolic"])) == (200.0, 110.0)
    fhir_weights = sorted(
        o["valueQuantity"]["value"]
        for o in result.ndjson("Observation")
        if o["code"]["coding"][0]["code"] == "29463-7"
    )
    assert fhir_weights == [45, 45, 96, 150]
    # The red blood pressure's finding judged the true value; it leaves coded too.
    judged = [f for f in result.csv("findings") if f["measurement"] == "systolic"]
    assert judged
    assert all(float(f["value"]) <= 200 for f in judged)
    # A gain in kg is not a weight: it is left as it is, not coded at 45 kg.
    for rows in (result.csv("findings"), result.parquet("findings")):
        [gain] = [f for f in rows if f["rule"] == "trend.weight_gain"]
        assert (float(gain["value"]), float(gain["threshold"])) == (2.8, 2.0)
    # Hex pseudonyms may hold any run of digits; a decimal point they cannot.
    for value in (b"181.3", b"38.2"):
        assert not any(value in content for content in result.files.values()), value
    for table in ("readings", "findings"):
        numbers = [
            float(row[column])
            for row in result.csv(table)
            for column in ("value", "threshold", "systolic", "diastolic")
            if row.get(column) not in (None, "")
        ]
        assert max(numbers) <= 200, table
    coded = result.report()["values_coded"]
    assert coded["body_weight"] == {"low": 45.0, "high": 150.0, "values_coded": 3}
    assert coded["systolic"]["values_coded"] >= 2  # the reading and its finding
    assert result.report()["configuration"]["value_limits"]["systolic"]["high"] == 200


async def test_aggregate_cells_under_five_patients_are_suppressed(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    pulses: Counter[str] = Counter()
    for n in range(7):
        patient = await enrol(client, settings, centre)
        await set_care_plan(client, patient, "heart_failure")
        for hours in range(1 + n % 3):
            pulse = observation(patient.id, "8867-4", 70 + hours, effective=_ago(hours + 1))
            await _post(client, patient, pulse)
            pulses[patient.id] += 1
        if n < 2:  # only two patients weigh themselves
            await _post(client, patient, observation(patient.id, "29463-7", 80, "kg"))
    subject, token = researcher(settings)
    study = await register_study(
        client, centre, [subject], k=1, variables=["protocol", "aggregates"]
    )
    result = await export(client, app, settings, study["id"], token)

    assert "readings.csv" not in result.files  # the rows themselves were not chosen
    # The readings were taken in the hours before enrolment: period -1.
    for rows in (result.csv("aggregates"), result.parquet("aggregates")):
        cells = {(r["topic"], r["category"], int(r["period"])): r for r in rows}
        pulse = cells[("readings", "heart_rate", -1)]
        assert pulse["protocol"] == "heart_failure"
        assert int(pulse["patients"]) == 7
        assert int(pulse["records"]) == sum(pulses.values())
        assert str(pulse["suppressed"]).lower() == "false"
        weight = cells[("readings", "body_weight", -1)]
        assert str(weight["suppressed"]).lower() == "true"
        assert weight["patients"] in ("", None)
        assert weight["records"] in ("", None)
    summary = result.report()["aggregates"]
    assert summary["cell_threshold"] == 5
    assert summary["cells_suppressed"] >= 1
    assert summary["cells"] == len(result.csv("aggregates"))
