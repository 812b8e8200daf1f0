"""A transaction Bundle tagged as history: stored like a gateway's, never judged; only
staff and system clients may send one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from service.auth.dev_issuer import mint_token
from service.auth.principal import Role
from service.ingest.history import HISTORY_TAG_CODE, HISTORY_TAG_SYSTEM
from service.queue import jobs
from service.settings import Settings
from tests.factories import (
    EnrolledPatient,
    auth,
    blood_pressure,
    create_centre,
    gateway_bundle,
    observation,
    queue_of,
    readings_of,
    set_care_plan,
)
from tests.ingest.history_helpers import enrol_from

HISTORY_TAG = {"system": HISTORY_TAG_SYSTEM, "code": HISTORY_TAG_CODE}


def _red_readings(patient: EnrolledPatient, days_ago: int) -> list[dict[str, Any]]:
    when = datetime.now(UTC) - timedelta(days=days_ago)
    return [
        blood_pressure(patient.id, 200, 115, effective=when),
        observation(patient.id, "59408-5", 86, "%", effective=when + timedelta(minutes=1)),
    ]


async def _findings(app: Any, patient_id: str) -> int:
    async with app.state.dho.engine.connect() as conn:
        query = sa.text("SELECT count(*) FROM finding WHERE patient_id = :p")
        return int(await conn.scalar(query, {"p": patient_id}) or 0)


async def test_a_history_bundle_is_stored_and_raises_nothing(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    start = datetime.now(UTC).date() - timedelta(days=30)
    patient = await enrol_from(client, settings, centre, start)
    await set_care_plan(client, patient, "heart_failure")
    system = auth(mint_token(settings, role=Role.system, subject="old-dho", centres=[centre.id]))
    bundle = gateway_bundle(patient.identity_number, _red_readings(patient, 20), "SN-H1")
    bundle["meta"] = {"tag": [HISTORY_TAG]}
    response = await client.post("/fhir", json=bundle, headers=system)
    assert response.status_code == 200, response.text
    assert len(await readings_of(client, patient)) == 2
    assert await _findings(app, patient.id) == 0
    assert await queue_of(client, centre) == []

    # The same readings, a day later and not tagged: judged as any gateway's.
    live = gateway_bundle(patient.identity_number, _red_readings(patient, 0), "SN-H1")
    judged = await client.post("/fhir", json=live, headers=system)
    assert judged.status_code == 200, judged.text
    [item] = await queue_of(client, centre)
    assert item["severity"] == "red"


async def test_a_patient_token_cannot_send_history(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol_from(client, settings, centre, datetime.now(UTC).date())
    await set_care_plan(client, patient, "heart_failure")
    bundle = gateway_bundle(patient.identity_number, _red_readings(patient, 0), "SN-H2")
    bundle["meta"] = {"tag": [{"system": "urn:other", "code": "x"}, HISTORY_TAG]}
    response = await client.post("/fhir", json=bundle, headers=patient.headers)
    assert response.status_code == 403
    [issue] = response.json()["issue"]
    assert issue["expression"] == ["Bundle.meta.tag"]
    assert await readings_of(client, patient) == []


async def test_the_missing_reading_clock_counts_from_the_imported_readings(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    """Enrolled today with follow-up started 10 days ago elsewhere, last weighed there
    three days ago: the weight is overdue now, not 36 hours from now."""
    centre = await create_centre(app, settings)
    start = datetime.now(UTC).date() - timedelta(days=10)
    patient = await enrol_from(client, settings, centre, start)
    system = auth(mint_token(settings, role=Role.system, subject="old-dho", centres=[centre.id]))
    last = datetime.now(UTC) - timedelta(days=3)
    earlier = [
        observation(patient.id, "29463-7", 80.0, "kg", effective=last - timedelta(days=d))
        for d in range(5)
    ]
    earlier += [blood_pressure(patient.id, 128, 80, effective=datetime.now(UTC))]
    bundle = gateway_bundle(patient.identity_number, earlier, "SN-H3")
    bundle["meta"] = {"tag": [HISTORY_TAG]}
    assert (await client.post("/fhir", json=bundle, headers=system)).status_code == 200
    await set_care_plan(client, patient, "heart_failure")
    async with app.state.dho.engine.begin() as conn:
        await jobs.scan_missing_readings(conn, datetime.now(UTC))
    [item] = await queue_of(client, centre)
    [finding] = item["findings"]
    assert (finding["rule"], finding["measurement"]) == ("missing.reading", "body_weight")
    # Hours since the last imported weighing: about 72, not hours since enrolment.
    assert 71 < finding["value"] < 74


async def test_history_reads_back_as_not_assessed_and_its_device_is_not_heard_now(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    """A patient (or a chart) reading imported history is told it was not assessed, never
    "as usual"; and a kit heard only in the old service's data raises no silent-device item
    days after the import."""
    centre = await create_centre(app, settings)
    start = datetime.now(UTC).date() - timedelta(days=30)
    patient = await enrol_from(client, settings, centre, start)
    await set_care_plan(client, patient, "heart_failure")
    system = auth(mint_token(settings, role=Role.system, subject="old-dho", centres=[centre.id]))
    bundle = gateway_bundle(patient.identity_number, _red_readings(patient, 20), "SN-H4")
    bundle["meta"] = {"tag": [HISTORY_TAG]}
    response = await client.post(
        "/fhir", json=bundle, headers={**system, "Prefer": "return=representation"}
    )
    assert response.status_code == 200, response.text
    answered = [e["resource"] for e in response.json()["entry"] if "resource" in e]
    for resource in [*answered, *await readings_of(client, patient)]:
        [concept] = [
            c for c in resource["interpretation"] if c["coding"][0]["code"] == "not-triaged"
        ]
        assert "history" in concept["coding"][0]["display"]
        assert "historikk" in concept["text"]
    assert len(answered) == 2
    async with app.state.dho.engine.begin() as conn:
        await jobs.scan_missing_readings(conn, datetime.now(UTC) + timedelta(days=4))
    rules = {f["rule"] for i in await queue_of(client, centre) for f in i["findings"]}
    assert "device.silent" not in rules
