"""End to end: `dho serve` as a real process, spoken to over a real socket.

Also the place to check what an operator sees: the process's log lines are JSON with
request ids, and carry no name, identity number or measured value.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.auth.dev_issuer import mint_token
from service.auth.principal import Role
from service.settings import Settings
from tests.factories import create_centre, new_identity_number, observation, patient_resource

pytestmark = pytest.mark.e2e


async def test_ingest_through_a_real_server(
    server: tuple[str, Path], app: Any, settings: Settings
) -> None:
    base, log_path = server
    centre = await create_centre(app, settings)
    number = new_identity_number()
    async with httpx.AsyncClient(base_url=base) as http:
        nurse = {"Authorization": f"Bearer {centre.nurse_token}"}
        enrolled = await http.post(
            "/fhir/Patient", json=patient_resource(number, centre.id), headers=nurse
        )
        assert enrolled.status_code == 201
        patient_id = enrolled.json()["id"]
        patient = {
            "Authorization": f"Bearer {mint_token(settings, role=Role.patient, subject=patient_id)}"
        }
        posted = await http.post(
            "/fhir/Observation",
            content=json.dumps(observation(patient_id, "29463-7", 83.7, "kg")),
            headers={**patient, "Content-Type": "application/fhir+json"},
        )
        assert posted.status_code == 201
        assert posted.headers["x-request-id"]
        found = await http.get(f"/fhir/Observation?patient={patient_id}", headers=nurse)
        assert [e["resource"]["valueQuantity"]["value"] for e in found.json()["entry"]] == [83.7]
        refused = await http.get("/fhir/Observation", headers={"Authorization": "Bearer nope"})
        assert refused.status_code == 401
        by_identity = await http.get(
            "/fhir/Patient",
            params={"identifier": f"urn:oid:2.16.578.1.12.4.1.4.1|{number}"},
            headers=nurse,
        )
        assert [e["resource"]["id"] for e in by_identity.json()["entry"]] == [patient_id]

    await asyncio.sleep(0.3)  # let the workers flush their last log lines
    log = log_path.read_text()
    request_lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(
        line.get("route") == "/fhir/Observation" and line["status"] == 201 for line in request_lines
    )
    assert all(line["request_id"] for line in request_lines if line.get("message") == "request")
    for secret in (number, "Testesen", "83.7", centre.nurse_token):
        assert secret not in log
