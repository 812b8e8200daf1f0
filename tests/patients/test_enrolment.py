"""POST /fhir/Patient and reading patients: enrolment by staff, into their centre."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from service.auth.dev_issuer import mint_token
from service.auth.principal import Role
from service.settings import Settings
from tests.factories import auth, create_centre, enrol, new_identity_number, patient_resource


async def test_nurse_enrols_into_own_centre(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    number = new_identity_number()
    response = await client.post(
        "/fhir/Patient", json=patient_resource(number), headers=auth(centre.nurse_token)
    )
    assert response.status_code == 201
    body = response.json()
    assert body["managingOrganization"] == {"reference": f"Organization/{centre.id}"}
    assert body["identifier"][0]["value"] == number
    assert response.headers["location"].endswith(f"/fhir/Patient/{body['id']}/_history/1")
    # The number is stored encrypted, never in clear.
    async with app.state.dho.engine.connect() as conn:
        import sqlalchemy as sa

        row = (
            await conn.execute(sa.text("SELECT * FROM patient WHERE id = :id"), {"id": body["id"]})
        ).one()
    assert number not in " ".join(str(v) for v in row)


async def test_the_same_person_is_enrolled_once(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    again = await client.post(
        "/fhir/Patient",
        json=patient_resource(patient.identity_number, centre.id),
        headers=auth(centre.admin_token),
    )
    assert again.status_code == 409
    assert patient.identity_number not in again.text


@pytest.mark.parametrize(
    ("change", "expression"),
    [
        (
            lambda r: r.update(
                identifier=[{"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": "12345678901"}]
            ),
            "Patient.identifier.value",
        ),
        (lambda r: r.pop("identifier"), "Patient.identifier"),
        (lambda r: r.pop("name"), "Patient.name"),
        (lambda r: r.update(address=[{"district": "18"}]), "Patient.address[0].district"),
        (lambda r: r.pop("address"), "Patient.address"),
        (lambda r: r.update(birthDate="1900-01-01"), "Patient.birthDate"),
        (lambda r: r.update(gender="robot"), "Patient.gender"),
        (
            lambda r: r.update(managingOrganization={"reference": "Organization/not-mine"}),
            "Patient.managingOrganization",
        ),
    ],
)
async def test_enrolment_errors_name_the_element(
    client: httpx.AsyncClient, app: Any, settings: Settings, change: Any, expression: str
) -> None:
    centre = await create_centre(app, settings)
    resource = patient_resource(new_identity_number(), centre.id)
    change(resource)
    response = await client.post("/fhir/Patient", json=resource, headers=auth(centre.nurse_token))
    assert response.status_code == 422, response.text
    assert response.json()["issue"][0]["expression"] == [expression]
    listed = await client.get("/fhir/Patient", headers=auth(centre.nurse_token))
    assert listed.json()["entry"] == []


async def test_patients_do_not_enrol(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    response = await client.post(
        "/fhir/Patient",
        json=patient_resource(new_identity_number(), centre.id),
        headers=patient.headers,
    )
    assert response.status_code == 403


async def test_reading_patients_respects_reach(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    mine, theirs = await create_centre(app, settings), await create_centre(app, settings)
    alice, bob = await enrol(client, settings, mine), await enrol(client, settings, theirs)
    assert (await client.get(f"/fhir/Patient/{alice.id}", headers=alice.headers)).status_code == 200
    assert (await client.get(f"/fhir/Patient/{bob.id}", headers=alice.headers)).status_code == 404
    assert (
        await client.get(f"/fhir/Patient/{bob.id}", headers=auth(mine.nurse_token))
    ).status_code == 404
    researcher = mint_token(settings, role=Role.researcher, subject="r", scopes=["user/Patient.rs"])
    assert (
        await client.get(f"/fhir/Patient/{alice.id}", headers=auth(researcher))
    ).status_code == 404
    listed = await client.get("/fhir/Patient", headers=auth(mine.nurse_token))
    assert [e["resource"]["id"] for e in listed.json()["entry"]] == [alice.id]


async def test_organizations_are_the_callers_centres(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    mine = await create_centre(app, settings, municipalities=["1804", "1840"])
    await create_centre(app, settings)
    response = await client.get("/fhir/Organization", headers=auth(mine.nurse_token))
    orgs = [e["resource"] for e in response.json()["entry"]]
    assert [o["id"] for o in orgs] == [mine.id]
    assert [e["valueCode"] for e in orgs[0]["extension"]] == ["1804", "1840"]
