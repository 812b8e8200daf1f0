"""Control characters in paths and queries, and NUL in API bodies, are refused before
they reach a query."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from service.settings import Settings
from tests.factories import auth, create_centre, enrol


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


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"reason": "start\\u0000", "protocol": "copd"}'),
        ("application/json", b'{"reason": "start\x00", "protocol": "copd"}'),
    ],
)
async def test_a_nul_in_an_api_body_is_a_400_and_changes_nothing(
    client: httpx.AsyncClient, app: Any, settings: Settings, content_type: str, body: bytes
) -> None:
    """PostgreSQL cannot store NUL in text: refused at the door on both databases, so the
    two behave the same and nothing is half-done."""
    patient = await enrol(client, settings, await create_centre(app, settings))
    nurse = auth(patient.centre.nurse_token)
    response = await client.put(
        f"/api/patients/{patient.id}/care-plan",
        content=body,
        headers={**nurse, "content-type": content_type},
    )
    assert response.status_code == 400, response.text
    assert "NUL" in response.json()["detail"]
    plan = await client.get(f"/api/patients/{patient.id}/care-plan", headers=nurse)
    assert plan.status_code == 404


async def test_an_escaped_backslash_before_u0000_is_text_not_nul(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    response = await client.put(
        f"/api/patients/{patient.id}/care-plan",
        content=b'{"reason": "path C:\\\\u0000", "protocol": "copd"}',
        headers={**auth(patient.centre.nurse_token), "content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["reason"] == "path C:\\u0000"
