"""Control characters in paths and queries are refused before they reach a query."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from service.settings import Settings
from tests.factories import create_centre, enrol


@pytest.mark.parametrize(
    "url",
    [
        "/fhir/Observation?patient={patient}%00",
        "/fhir/Observation/{patient}%00",
        "/fhir/Patient/{patient}%00",
        "/fhir/Patient?identifier=urn:oid:2.16.578.1.12.4.1.4.1|%00",
        "/fhir/Observation?code=%1b",
    ],
)
async def test_control_characters_in_urls_are_a_400(
    client: httpx.AsyncClient, app: Any, settings: Settings, url: str
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    response = await client.get(url.format(patient=patient.id), headers=patient.headers)
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"
    assert response.headers["x-request-id"]
