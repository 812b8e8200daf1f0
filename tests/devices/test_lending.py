"""Re-lending a kit: a device's readings belong to whoever held it at their time.

The scenario a centre lives: patient A uses a kit, hands it back, the kit is lent to
B, and B's gateway sends its coincident timestamp and readings. Everything of B's is
filed under B (through a centre gateway's token and B's own), a late delivery of A's
still goes to A, and what the kit measured while no one (or someone else) held it is
refused, never filed under another patient.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import sqlalchemy as sa

from service.auth.dev_issuer import mint_token
from service.auth.principal import Role
from service.ingest import repository as observations
from service.settings import Settings
from tests.devices.helpers import kit_bundle
from tests.factories import (
    DEVICE_SYSTEM,
    auth,
    create_centre,
    enrol,
    new_identity_number,
    patient_resource,
)


async def _rows(app: Any, device_id: str) -> list[Any]:
    async with app.state.dho.engine.connect() as conn:
        query = sa.text(
            "SELECT patient_id, kind, measurement, value FROM observation "
            "WHERE device_id = :d ORDER BY effective_at"
        )
        return list((await conn.execute(query, {"d": device_id})).all())


async def _device_id(client: httpx.AsyncClient, nurse: str, serial: str) -> str:
    found = await client.get(
        "/fhir/Device", params={"identifier": f"{DEVICE_SYSTEM}|{serial}"}, headers=auth(nurse)
    )
    assert found.status_code == 200, found.text
    [entry] = found.json()["entry"]
    return str(entry["resource"]["id"])


async def _open_loan(client: httpx.AsyncClient, nurse: str, device_id: str) -> dict[str, Any]:
    loans = await client.get(
        "/api/device-loans", params={"device_id": device_id, "open": "true"}, headers=auth(nurse)
    )
    assert loans.status_code == 200, loans.text
    [loan] = loans.json()
    return dict(loan)


async def test_a_kit_lent_to_one_patient_after_another(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    a, b = await enrol(client, settings, centre), await enrol(client, settings, centre)
    gateway = mint_token(settings, role=Role.system, subject="gw-hub", centres=[centre.id])
    serial = f"cuff-{uuid4().hex[:8]}"
    now = datetime.now(UTC).replace(microsecond=0)

    # A uses the kit: first sight lends it to A.
    first = kit_bundle(
        a.identity_number,
        serial,
        now - timedelta(hours=3),
        [
            (now - timedelta(hours=3, minutes=1), 71),
        ],
    )
    response = await client.post("/fhir", json=first, headers=a.headers)
    assert response.status_code == 200, response.text
    device_id = await _device_id(client, centre.nurse_token, serial)
    loan_a = await _open_loan(client, centre.nurse_token, device_id)
    assert loan_a["patient_id"] == a.id

    # A hands it back; the nurse lends it to B.
    returned = await client.post(
        f"/api/device-loans/{loan_a['id']}/return",
        json={"returned_at": (now - timedelta(hours=2)).isoformat()},
        headers=auth(centre.nurse_token),
    )
    assert returned.status_code == 200, returned.text
    lent = await client.post(
        "/api/device-loans",
        json={
            "patient_id": b.id,
            "device_id": device_id,
            "lent_at": (now - timedelta(hours=1, minutes=30)).isoformat(),
        },
        headers=auth(centre.nurse_token),
    )
    assert lent.status_code == 201, lent.text
    assert lent.json()["lent_by"] == f"nurse-{centre.id}"

    # B's readings, coincident timestamp included, through the centre's gateway...
    via_hub = kit_bundle(
        b.identity_number,
        serial,
        now - timedelta(hours=1),
        [
            (now - timedelta(hours=1, minutes=1), 81),
        ],
    )
    response = await client.post("/fhir", json=via_hub, headers=auth(gateway))
    assert response.status_code == 200, response.text
    # ... and through B's own token (the whole transaction was refused before).
    own = kit_bundle(
        b.identity_number,
        serial,
        now - timedelta(minutes=30),
        [
            (now - timedelta(minutes=32), 82),
            (now - timedelta(minutes=31), 83),
        ],
    )
    response = await client.post("/fhir", json=own, headers=b.headers)
    assert response.status_code == 200, response.text

    # A late delivery from A's time still goes to A.
    late = kit_bundle(
        a.identity_number,
        serial,
        now - timedelta(hours=2, minutes=30),
        [
            (now - timedelta(hours=2, minutes=31), 72),
        ],
    )
    response = await client.post("/fhir", json=late, headers=a.headers)
    assert response.status_code == 200, response.text

    rows = await _rows(app, device_id)
    assert [(r.patient_id, r.kind) for r in rows] == [
        (a.id, "measurement"),
        (a.id, "context"),
        (a.id, "measurement"),
        (a.id, "context"),
        (b.id, "measurement"),
        (b.id, "context"),
        (b.id, "measurement"),
        (b.id, "measurement"),
        (b.id, "context"),
    ]
    assert [r.value for r in rows if r.kind == "measurement"] == [71, 72, 81, 82, 83]

    # After the return and before B's loan no one held it; since then B does.
    for who, when in ((a, now - timedelta(hours=1, minutes=45)), (a, now - timedelta(minutes=5))):
        stray = kit_bundle(who.identity_number, serial, when, [(when, 99)], with_coincident=False)
        refused = await client.post("/fhir", json=stray, headers=who.headers)
        assert refused.status_code == 422, refused.text
        issue = refused.json()["issue"][0]
        assert issue["expression"] == ["Bundle.entry[2].resource.device"], issue
        assert "not lent to this patient" in issue["diagnostics"]
    # B cannot file a reading from A's time either.
    back = now - timedelta(hours=2, minutes=40)
    stray = kit_bundle(b.identity_number, serial, back, [(back, 98)], with_coincident=False)
    assert (await client.post("/fhir", json=stray, headers=b.headers)).status_code == 422
    assert len(await _rows(app, device_id)) == len(rows)


async def test_loans_are_audited_and_another_centre_finds_nothing(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre, elsewhere = await create_centre(app, settings), await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    identifier = {"system": DEVICE_SYSTEM, "value": f"oxi-{uuid4().hex[:8]}"}
    lent = await client.post(
        "/api/device-loans",
        json={"patient_id": patient.id, "device_identifier": identifier},
        headers=auth(centre.admin_token),
    )
    assert lent.status_code == 201, lent.text
    loan = lent.json()
    outsider = elsewhere.nurse_token
    attempts = [
        ("GET", f"/fhir/Device/{loan['device_id']}", None),
        ("POST", f"/api/device-loans/{loan['id']}/return", {}),
        ("POST", "/api/device-loans", {"patient_id": patient.id, "device_id": loan["device_id"]}),
    ]
    for method, url, body in attempts:
        response = await client.request(method, url, json=body, headers=auth(outsider))
        assert response.status_code == 404, (url, response.text)
    listed = await client.get(
        "/api/device-loans", params={"device_id": loan["device_id"]}, headers=auth(outsider)
    )
    assert listed.json() == []
    returned = await client.post(
        f"/api/device-loans/{loan['id']}/return", json={}, headers=auth(centre.nurse_token)
    )
    assert returned.status_code == 200, returned.text
    async with app.state.dho.engine.connect() as conn:
        query = sa.text(
            "SELECT action, actor, patient_id, centre_id FROM audit_event "
            "WHERE resource_type = 'Device' AND resource_id = :d AND status < 400 "
            "ORDER BY recorded_at"
        )
        trail = (await conn.execute(query, {"d": loan["device_id"]})).all()
    assert [(r.action, r.actor, r.patient_id, r.centre_id) for r in trail] == [
        ("C", f"admin-{centre.id}", patient.id, centre.id),
        ("U", f"nurse-{centre.id}", patient.id, centre.id),
    ]


async def test_a_kit_is_lent_at_enrolment_and_not_twice(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    serial = f"scale-{uuid4().hex[:8]}"
    kit = {
        "url": "https://fhir.dho.example/StructureDefinition/lent-device",
        "valueIdentifier": {"system": DEVICE_SYSTEM, "value": serial},
    }
    resource = {**patient_resource(new_identity_number(), centre.id), "extension": [kit]}
    enrolled = await client.post("/fhir/Patient", json=resource, headers=auth(centre.nurse_token))
    assert enrolled.status_code == 201, enrolled.text
    patient_id = enrolled.json()["id"]
    device_id = await _device_id(client, centre.nurse_token, serial)
    loan = await _open_loan(client, centre.nurse_token, device_id)
    assert loan["patient_id"] == patient_id

    number = new_identity_number()
    second = {**patient_resource(number, centre.id), "extension": [kit]}
    refused = await client.post("/fhir/Patient", json=second, headers=auth(centre.nurse_token))
    assert refused.status_code == 409, refused.text
    issue = refused.json()["issue"][0]
    assert issue["expression"] == ["Patient.extension[0].valueIdentifier"]
    assert serial not in refused.text
    # Nothing half-stored: the second patient was not enrolled.
    search = await client.get(
        "/fhir/Patient",
        params={"identifier": f"urn:oid:2.16.578.1.12.4.1.4.1|{number}"},
        headers=auth(centre.nurse_token),
    )
    assert search.json().get("entry", []) == []


async def test_lending_refuses_what_would_misfile_readings(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    a, b = await enrol(client, settings, centre), await enrol(client, settings, centre)
    serial = f"cuff-{uuid4().hex[:8]}"
    now = datetime.now(UTC).replace(microsecond=0)
    taken = [(now - timedelta(minutes=10), 70.0), (now - timedelta(minutes=4), 71.0)]
    bundle = kit_bundle(a.identity_number, serial, now - timedelta(minutes=3), taken)
    assert (await client.post("/fhir", json=bundle, headers=a.headers)).status_code == 200
    nurse = auth(centre.nurse_token)
    device_id = await _device_id(client, centre.nurse_token, serial)
    loan = await _open_loan(client, centre.nurse_token, device_id)

    # Lent out: B must wait for the return.
    busy = await client.post(
        "/api/device-loans", json={"patient_id": b.id, "device_id": device_id}, headers=nurse
    )
    assert busy.status_code == 409, busy.text
    # A return dated before A's last reading would leave that reading misfiled.
    early = await client.post(
        f"/api/device-loans/{loan['id']}/return",
        json={"returned_at": (now - timedelta(minutes=7)).isoformat()},
        headers=nurse,
    )
    assert early.status_code == 409, early.text
    done = await client.post(
        f"/api/device-loans/{loan['id']}/return",
        json={"returned_at": (now - timedelta(minutes=2)).isoformat()},
        headers=nurse,
    )
    assert done.status_code == 200, done.text
    # B's loan cannot reach back into A's.
    overlap = await client.post(
        "/api/device-loans",
        json={
            "patient_id": b.id,
            "device_id": device_id,
            "lent_at": (now - timedelta(minutes=30)).isoformat(),
        },
        headers=nurse,
    )
    assert overlap.status_code == 409, overlap.text
    # Patients do not lend kits, and returns are not in the future.
    forbidden = await client.post(
        "/api/device-loans", json={"patient_id": b.id, "device_id": device_id}, headers=b.headers
    )
    assert forbidden.status_code == 403
    again = await client.post(f"/api/device-loans/{loan['id']}/return", json={}, headers=nurse)
    assert again.status_code == 409


async def test_a_returned_kit_is_not_a_silent_device(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    """The missing-reading job looks for devices gone quiet: a kit handed back is
    not quiet, it is gone, and must not raise an item for its last holder."""
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    serial = f"cuff-{uuid4().hex[:8]}"
    now = datetime.now(UTC).replace(microsecond=0)
    bundle = kit_bundle(patient.identity_number, serial, now, [(now - timedelta(minutes=9), 70)])
    assert (await client.post("/fhir", json=bundle, headers=patient.headers)).status_code == 200
    device_id = await _device_id(client, centre.nurse_token, serial)

    async def heard() -> set[str]:
        async with app.state.dho.engine.connect() as conn:
            rows = await observations.device_last_heard(conn)
        return {r.device_id for r in rows if r.patient_id == patient.id}

    assert await heard() == {device_id}
    loan = await _open_loan(client, centre.nurse_token, device_id)
    returned = await client.post(
        f"/api/device-loans/{loan['id']}/return", json={}, headers=auth(centre.nurse_token)
    )
    assert returned.status_code == 200, returned.text
    assert await heard() == set()


async def test_in_a_batch_only_the_stray_reading_is_refused(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    serial = f"cuff-{uuid4().hex[:8]}"
    now = datetime.now(UTC).replace(microsecond=0)
    first = kit_bundle(patient.identity_number, serial, now - timedelta(hours=2), [])
    assert (await client.post("/fhir", json=first, headers=patient.headers)).status_code == 200
    device_id = await _device_id(client, centre.nurse_token, serial)
    loan = await _open_loan(client, centre.nurse_token, device_id)
    returned = await client.post(
        f"/api/device-loans/{loan['id']}/return",
        json={"returned_at": (now - timedelta(hours=1)).isoformat()},
        headers=auth(centre.nurse_token),
    )
    assert returned.status_code == 200, returned.text

    held, stray = now - timedelta(hours=1, minutes=30), now - timedelta(minutes=30)
    batch = kit_bundle(
        patient.identity_number, serial, held, [(held, 70), (stray, 71)], with_coincident=False
    )
    batch["type"] = "batch"
    response = await client.post("/fhir", json=batch, headers=patient.headers)
    assert response.status_code == 200, response.text
    answers = [e["response"] for e in response.json()["entry"]]
    assert [a["status"] for a in answers] == [
        "200 OK",
        "200 OK",
        "201 Created",
        "422 Unprocessable Entity",
    ]
    issue = answers[3]["outcome"]["issue"][0]
    assert issue["expression"] == ["Bundle.entry[3].resource.device"]
    assert [r.value for r in await _rows(app, device_id) if r.kind == "measurement"] == [70]
