"""Small helpers that build what tests need through the real API: a centre, a nurse,
an enrolled patient with a token of their own, readings."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx

from service.auth.dev_issuer import mint_token
from service.auth.principal import Role
from service.centres import repository as centres
from service.fhirkit.catalogue import LOINC, UCUM
from service.patients.identity_number import FNR_SYSTEM, generate_identity_number
from service.settings import Settings

_births = itertools.count()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}


@dataclass(frozen=True)
class Centre:
    id: str
    nurse_token: str
    admin_token: str


@dataclass(frozen=True)
class EnrolledPatient:
    id: str
    identity_number: str
    centre: Centre
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return auth(self.token)


async def create_centre(
    app: Any, settings: Settings, municipalities: list[str] | None = None
) -> Centre:
    centre_id = f"c-{uuid4().hex[:10]}"
    async with app.state.dho.engine.begin() as conn:
        await centres.upsert(
            conn,
            {
                "id": centre_id,
                "name": f"Centre {centre_id}",
                "municipalities": municipalities or ["1804"],
            },
        )
    return Centre(
        centre_id,
        nurse_token=mint_token(
            settings, role=Role.nurse, subject=f"nurse-{centre_id}", centres=[centre_id]
        ),
        admin_token=mint_token(
            settings, role=Role.admin, subject=f"admin-{centre_id}", centres=[centre_id]
        ),
    )


def new_identity_number() -> str:
    n = next(_births)
    birth = date(1930, 1, 1) + timedelta(days=(n * 37 + int(uuid4().int % 20000)) % 25000)
    # From 200 up: the demo (service/demo.py) numbers its patients from 100, and a test
    # patient sharing a demo number in the session's database would take it from the demo.
    return generate_identity_number(birth, 200 + (uuid4().int % 300))


def patient_resource(
    identity_number: str, centre_id: str | None = None, municipality: str = "1804"
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": FNR_SYSTEM, "value": identity_number}],
        "name": [{"family": "Testesen", "given": ["Kari"]}],
        "address": [{"district": municipality}],
    }
    if centre_id is not None:
        resource["managingOrganization"] = {"reference": f"Organization/{centre_id}"}
    return resource


async def enrol(client: httpx.AsyncClient, settings: Settings, centre: Centre) -> EnrolledPatient:
    for _ in range(5):
        number = new_identity_number()
        response = await client.post(
            "/fhir/Patient",
            json=patient_resource(number, centre.id),
            headers=auth(centre.nurse_token),
        )
        if response.status_code != 409:
            break
    assert response.status_code == 201, response.text
    patient_id = response.json()["id"]
    token = mint_token(settings, role=Role.patient, subject=patient_id)
    return EnrolledPatient(patient_id, number, centre, token)


def observation(
    patient_id: str,
    code: str = "8867-4",
    value: float = 72,
    unit: str = "/min",
    *,
    effective: datetime | str | None = None,
    identifier: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    when = effective or datetime.now(UTC) - timedelta(minutes=5)
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": when if isinstance(when, str) else when.isoformat(),
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
    }
    if identifier is not None:
        resource["identifier"] = [{"system": "urn:dho:test-device", "value": identifier}]
    resource.update(extra)
    return resource


def blood_pressure(
    patient_id: str, systolic: float, diastolic: float, unit: str = "mm[Hg]", **kw: Any
) -> dict[str, Any]:
    resource = observation(patient_id, "85354-9", 0, unit, **kw)
    del resource["valueQuantity"]
    resource["component"] = [
        {
            "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
            "valueQuantity": {"value": systolic, "system": UCUM, "code": unit},
        },
        {
            "code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
            "valueQuantity": {"value": diastolic, "system": UCUM, "code": unit},
        },
    ]
    return resource


async def readings_of(client: httpx.AsyncClient, patient: EnrolledPatient) -> list[dict[str, Any]]:
    """The patient's stored readings, as the patient sees them (one page of up to 500)."""
    response = await client.get(
        "/fhir/Observation", params={"patient": patient.id, "_count": 500}, headers=patient.headers
    )
    assert response.status_code == 200, response.text
    return [entry["resource"] for entry in response.json().get("entry", [])]


async def set_care_plan(
    client: httpx.AsyncClient,
    patient: EnrolledPatient,
    protocol: str = "heart_failure",
    reason: str = "start of follow-up",
    **settings: Any,
) -> dict[str, Any]:
    """A new version of the patient's care plan, set by a nurse of their centre."""
    response = await client.put(
        f"/api/patients/{patient.id}/care-plan",
        json={"protocol": protocol, "reason": reason, **settings},
        headers=auth(patient.centre.nurse_token),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def queue_of(
    client: httpx.AsyncClient, centre: Centre, **params: Any
) -> list[dict[str, Any]]:
    """The centre's queue as its nurse sees it."""
    response = await client.get("/api/queue", params=params, headers=auth(centre.nurse_token))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


DEVICE_SYSTEM = "urn:oid:1.2.840.10004.1.1.1.0.0.1.0.0.1.2680"


def gateway_bundle(
    identity_number: str, readings: list[dict[str, Any]], serial: str
) -> dict[str, Any]:
    """A PHD gateway's transaction: the Patient and the Device by conditional create,
    then the readings, their subject and device pointed at those entries' fullUrls."""
    patient_url = "urn:uuid:5b7842fe-978d-4182-a41f-0d07a8617bc2"
    device_url = "urn:uuid:fbb4ed64-3a2e-4c50-a9e0-bc2a9bd4ab8d"
    entries = gateway_entries(identity_number, serial, patient_url, device_url)
    for reading in readings:
        reading = {
            **reading,
            "subject": {"reference": patient_url},
            "device": {"reference": device_url},
        }
        entries.append({"resource": reading, "request": {"method": "POST", "url": "Observation"}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def gateway_entries(
    identity_number: str, serial: str, patient_url: str, device_url: str
) -> list[dict[str, Any]]:
    """The head of a PHD gateway's transaction: the Patient and the Device by conditional
    create, at the fullUrls its Observations then reference."""
    return [
        {
            "fullUrl": patient_url,
            "resource": {
                "resourceType": "Patient",
                "identifier": [{"system": FNR_SYSTEM, "value": identity_number}],
            },
            "request": {
                "method": "POST",
                "url": "Patient",
                "ifNoneExist": f"identifier={FNR_SYSTEM}|{identity_number}",
            },
        },
        {
            "fullUrl": device_url,
            "resource": {
                "resourceType": "Device",
                "identifier": [{"system": DEVICE_SYSTEM, "value": serial}],
            },
            "request": {
                "method": "POST",
                "url": "Device",
                "ifNoneExist": f"identifier={DEVICE_SYSTEM}|{serial}",
            },
        },
    ]
