"""/api/centres: an admin registers a centre and changes only their own; staff read
their own; bad values are refused with a 422 that names the field."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import httpx
import pytest
import sqlalchemy as sa

from service.auth.dev_issuer import mint_token
from service.auth.principal import Role
from service.settings import Settings
from tests.factories import auth, create_centre

# Brønnøysundregistrene's own organisation number: a valid check digit.
VALID_ORG_NUMBER = "974760673"


def _body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": f"c-{uuid4().hex[:10]}",
        "name": "Oppfølgingstjenesten i Salten",
        "org_number": VALID_ORG_NUMBER,
        "municipalities": ["1804", "1841"],
        "time_zone": "Europe/Oslo",
        "red_claim_minutes": 10,
    }
    body.update(changes)
    return body


def _admin(settings: Settings, *centres: str) -> dict[str, str]:
    subject = f"admin-{uuid4().hex[:6]}"
    return auth(mint_token(settings, role=Role.admin, subject=subject, centres=list(centres)))


async def test_an_admin_creates_a_centre_its_staff_then_read(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    body = _body()
    created = await client.post("/api/centres", json=body, headers=_admin(settings))
    assert created.status_code == 201, created.text
    centre = created.json()
    assert centre["org_number"] == VALID_ORG_NUMBER
    assert centre["municipalities"] == ["1804", "1841"]
    assert (centre["red_claim_minutes"], centre["red_resolve_minutes"]) == (10, 120)
    # The SLA is the queue's policy: the existing route sees the same numbers.
    nurse = auth(mint_token(settings, role=Role.nurse, subject="n1", centres=[body["id"]]))
    policy = await client.get(f"/api/centres/{body['id']}/queue-policy", headers=nurse)
    assert policy.json()["red_claim_minutes"] == 10
    read = await client.get(f"/api/centres/{body['id']}", headers=nurse)
    assert read.status_code == 200
    assert read.json()["name"] == body["name"]
    listed = await client.get("/api/centres", headers=nurse)
    assert [c["id"] for c in listed.json()] == [body["id"]]
    # A patient can be enrolled there at once.
    organisation = await client.get("/fhir/Organization", headers=nurse)
    assert organisation.json()["entry"][0]["resource"]["identifier"][0]["value"] == (
        VALID_ORG_NUMBER
    )
    async with app.state.dho.engine.connect() as conn:
        query = sa.text(
            "SELECT action, resource_type, patient_id FROM audit_event "
            "WHERE resource_id = :id AND resource_type = 'Organization'"
        )
        audited = (await conn.execute(query, {"id": body["id"]})).all()
    assert [tuple(a) for a in audited] == [("C", "Organization", None)]


async def test_a_taken_id_is_a_conflict(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    body = _body()
    assert (
        await client.post("/api/centres", json=body, headers=_admin(settings))
    ).status_code == 201
    again = await client.post("/api/centres", json=body, headers=_admin(settings))
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"org_number": "974760674"}, "org_number"),  # wrong check digit
        ({"org_number": "97476067"}, "org_number"),
        ({"org_number": "123456700"}, "org_number"),  # remainder 1: no check digit fits
        ({"municipalities": ["1804", "184"]}, "municipalities[1]"),
        ({"municipalities": ["1804", "1804"]}, "municipalities[1]"),
        ({"municipalities": []}, "municipalities"),
        ({"time_zone": "Europe/Bodø"}, "time_zone"),
        ({"time_zone": "../../etc/passwd"}, "time_zone"),
        ({"id": "Has Spaces"}, "id"),
        ({"name": "   "}, "name"),
        ({"red_claim_minutes": 0}, "red_claim_minutes"),
        ({"colour": "blue"}, "colour"),
    ],
)
async def test_bad_values_are_refused_naming_the_field(
    client: httpx.AsyncClient, settings: Settings, change: dict[str, Any], field: str
) -> None:
    body = _body(**change)
    response = await client.post("/api/centres", json=body, headers=_admin(settings))
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_request"
    assert field in response.json()["detail"]
    nurse = auth(mint_token(settings, role=Role.nurse, subject="n1", centres=[body["id"]]))
    assert (await client.get(f"/api/centres/{body['id']}", headers=nurse)).status_code == 404


async def test_an_admin_updates_only_their_own_centre(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    mine = await create_centre(app, settings)
    theirs = await create_centre(app, settings)
    admin = auth(mine.admin_token)
    changed = await client.patch(
        f"/api/centres/{mine.id}",
        json={"name": "Nytt navn", "municipalities": ["5001"], "red_resolve_minutes": 90},
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "Nytt navn"
    assert changed.json()["municipalities"] == ["5001"]
    assert changed.json()["red_resolve_minutes"] == 90
    assert changed.json()["red_claim_minutes"] == 15
    other = await client.patch(f"/api/centres/{theirs.id}", json={"name": "x"}, headers=admin)
    assert other.status_code == 404
    missing = await client.patch("/api/centres/no-such", json={"name": "x"}, headers=admin)
    assert missing.status_code == 404
    # A nurse of the centre reads it but cannot change it; nor can a system client.
    nurse = auth(mine.nurse_token)
    assert (
        await client.patch(f"/api/centres/{mine.id}", json={"name": "y"}, headers=nurse)
    ).status_code == 403
    system = auth(mint_token(settings, role=Role.system, subject="s", centres=[mine.id]))
    assert (
        await client.patch(f"/api/centres/{mine.id}", json={"name": "y"}, headers=system)
    ).status_code == 403
    theirs_read = await client.get(f"/api/centres/{theirs.id}", headers=nurse)
    assert theirs_read.status_code == 404
    unchanged = await client.get(f"/api/centres/{theirs.id}", headers=auth(theirs.nurse_token))
    assert unchanged.json()["name"] == f"Centre {theirs.id}"
    bad = await client.patch(f"/api/centres/{mine.id}", json={"org_number": "1"}, headers=admin)
    assert bad.status_code == 422
    assert "org_number" in bad.json()["detail"]
    empty = await client.patch(f"/api/centres/{mine.id}", json={}, headers=admin)
    assert empty.status_code == 422


async def test_only_admins_create_and_patients_see_no_centre(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    nurse = auth(centre.nurse_token)
    assert (await client.post("/api/centres", json=_body(), headers=nurse)).status_code == 403
    patient = auth(mint_token(settings, role=Role.patient, subject="p-1"))
    assert (await client.get("/api/centres", headers=patient)).status_code == 403
    assert (await client.get(f"/api/centres/{centre.id}", headers=patient)).status_code == 403
    # A nurse token granted create by an identity provider still is not an admin.
    scoped = mint_token(
        settings,
        role=Role.nurse,
        subject="n2",
        centres=[centre.id],
        scopes=["user/Organization.crus"],
    )
    refused = await client.post("/api/centres", json=_body(), headers=auth(scoped))
    assert refused.status_code == 403
