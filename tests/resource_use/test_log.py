"""The resource-use log: direct logging, the queue's resolve, corrections that keep the
history, events outside the service, the status history, and who reaches what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from service.auth.dev_issuer import mint_token
from service.auth.principal import Role
from service.resource_use.models import PatientStatusChange
from service.settings import Settings
from tests.audit.helpers import audit_records, auditor_token
from tests.factories import EnrolledPatient, auth, blood_pressure, queue_of, set_care_plan
from tests.resource_use.month import correct, log, report
from tests.resource_use.seed import SeedCentre, backdate, enrol_in, local, seed_centre, utc


async def _patient(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> tuple[SeedCentre, EnrolledPatient]:
    centre = await seed_centre(app, settings, ["1804"])
    patient = await enrol_in(client, settings, centre.centre, "1804")
    return centre, patient


async def history(
    client: httpx.AsyncClient, token: str, patient: EnrolledPatient
) -> list[dict[str, Any]]:
    response = await client.get(f"/api/patients/{patient.id}/resource-use", headers=auth(token))
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


async def test_resolving_a_queue_item_logs_one_event_per_action(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre, patient = await _patient(client, app, settings)
    await set_care_plan(client, patient, "heart_failure")
    nurse = centre.centre.nurse_token
    for systolic in (185, 190):
        await client.post(
            "/fhir/Observation",
            json=blood_pressure(patient.id, systolic, 95),
            headers=patient.headers,
        )
        [item] = await queue_of(client, centre.centre)
        body: dict[str, Any] = {"outcome": "no_action_needed"}
        if systolic == 185:
            actions = ["phone_call", "advice_to_patient", "phone_call"]
            body = {"outcome": "handled_by_centre", "minutes": 12, "actions": actions}
        # else: resolved straight from the queue, no action named, no minutes
        response = await client.post(
            f"/api/queue/{item['id']}/resolve", json=body, headers=auth(nurse)
        )
        assert response.status_code == 200, response.text
    rows = await history(client, nurse, patient)
    # 12 minutes over two distinct actions: 6 each. The second item: one review, 0 min.
    assert sorted((r["action"], r["minutes"], r["source"]) for r in rows) == [
        ("advice_to_patient", 6, "queue"),
        ("phone_call", 6, "queue"),
        ("reviewed_readings", 0, "queue"),
    ]
    assert all(r["item_id"] and r["actor"] == f"nurse-{centre.id}" for r in rows)
    assert all(r["actor_role"] == "nurse" and r["corrected_by"] is None for r in rows)


async def test_a_direct_action_is_logged_listed_and_audited(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre, patient = await _patient(client, app, settings)
    nurse = centre.centre.nurse_token
    when = datetime.now(UTC) - timedelta(days=2)
    event_id = await log(client, nurse, patient, "home_visit", 75, when)
    [row] = await history(client, nurse, patient)
    assert (row["id"], row["action"], row["minutes"], row["source"]) == (
        event_id,
        "home_visit",
        75,
        "nurse",
    )
    assert row["item_id"] is None
    records = await audit_records(
        client, auditor_token(settings, centre.centre), patient=patient.id
    )
    seen = {(r["resource_type"], r["subtype"]) for r in records}
    assert {("Procedure", "create"), ("Procedure", "search-type")} <= seen


async def test_a_correction_replaces_the_figure_and_keeps_the_history(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre, patient = await _patient(client, app, settings)
    await backdate(app, patient.id, utc(2026, 2, 1))
    nurse = centre.centre.nurse_token
    call = await log(client, nurse, patient, "phone_call", 10, local(2026, 3, 3, 10))

    async def minutes() -> tuple[float, float]:
        response = await client.get(
            "/api/evaluation",
            params={
                "centre": centre.id,
                "from": "2026-03-01",
                "to": "2026-03-31",
                "disclosure": "exact",
            },
            headers=auth(centre.leader_token),
        )
        nurse_time = response.json()["overall"]["nurse_time"]
        return nurse_time["minutes"], nurse_time["by_action"]["phone_call"]["events"]["value"]

    assert await minutes() == (10, 1)
    fixed = await correct(client, nurse, call, {"minutes": 25, "note": "a long call"})
    assert (fixed["corrects"], fixed["minutes"], fixed["action"]) == (call, 25, "phone_call")
    assert await minutes() == (25, 1)
    # Only the newest row of a chain can be corrected.
    again = await client.post(
        f"/api/resource-use/{call}/corrections", json={"minutes": 30}, headers=auth(nurse)
    )
    assert again.status_code == 409
    assert fixed["id"] in again.json()["detail"]
    await correct(client, nurse, fixed["id"], {"action": "video_consultation"})
    assert await minutes() == (25, 0)
    head = call_of(await history(client, nurse, patient))
    retracted = await correct(client, nurse, head, {"retracted": True})
    assert retracted["retracted"] is True
    assert await minutes() == (0, 0)
    rows = await history(client, nurse, patient)
    # Four rows, each but the newest pointing at the one that replaced it.
    assert [(r["minutes"], r["action"], r["retracted"]) for r in rows] == [
        (10, "phone_call", False),
        (25, "phone_call", False),
        (25, "video_consultation", False),
        (25, "video_consultation", True),
    ]
    assert [r["corrected_by"] for r in rows[:-1]] == [r["id"] for r in rows[1:]]
    assert rows[-1]["corrected_by"] is None


def call_of(rows: list[dict[str, Any]]) -> str:
    """The head of the chain: the row nothing corrects."""
    [head] = [r for r in rows if r["corrected_by"] is None]
    return str(head["id"])


async def test_a_correction_must_say_what_changes(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre, patient = await _patient(client, app, settings)
    nurse = centre.centre.nurse_token
    call = await log(client, nurse, patient, "phone_call", 10, datetime.now(UTC))
    for body in ({}, {"minutes": -1}, {"action": "gossip"}):
        response = await client.post(
            f"/api/resource-use/{call}/corrections", json=body, headers=auth(nurse)
        )
        assert response.status_code == 422, body
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    response = await client.post(
        f"/api/patients/{patient.id}/resource-use",
        json={"action": "phone_call", "minutes": 5, "occurred_at": future},
        headers=auth(nurse),
    )
    assert response.status_code == 400


async def test_another_centre_reaches_nothing(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre, patient = await _patient(client, app, settings)
    call = await log(client, centre.centre.nurse_token, patient, "phone_call", 10, utc(2026, 3, 1))
    stay = await report(
        client,
        centre.centre.admin_token,
        patient,
        {"kind": "hospital_stay", "started_at": utc(2026, 3, 2), "ended_at": utc(2026, 3, 4)},
    )
    stranger = await seed_centre(app, settings, ["5001"])
    nurse, admin = auth(stranger.centre.nurse_token), auth(stranger.centre.admin_token)
    action = {"action": "phone_call", "minutes": 5}
    for method, path, headers, body in (
        ("POST", f"/api/patients/{patient.id}/resource-use", nurse, action),
        ("GET", f"/api/patients/{patient.id}/resource-use", nurse, None),
        ("POST", f"/api/resource-use/{call}/corrections", nurse, {"minutes": 1}),
        ("GET", f"/api/patients/{patient.id}/external-events", nurse, None),
        ("POST", f"/api/patients/{patient.id}/external-events", admin, _gp_contact()),
        ("POST", f"/api/external-events/{stay}/corrections", admin, {"retracted": True}),
    ):
        response = await client.request(method, path, headers=headers, json=body)
        assert response.status_code == 404, (method, path, response.text)
    # Roles without the scope: the centre's own admin logs no nurse actions and reads
    # none (they hold clinical notes); its nurse reports no external events; the
    # patient does neither.
    own_admin, own_nurse = auth(centre.centre.admin_token), auth(centre.centre.nurse_token)
    for method, path, headers, body in (
        ("POST", f"/api/patients/{patient.id}/resource-use", own_admin, action),
        ("GET", f"/api/patients/{patient.id}/resource-use", own_admin, None),
        ("POST", f"/api/patients/{patient.id}/external-events", own_nurse, _gp_contact()),
        ("GET", f"/api/patients/{patient.id}/resource-use", patient.headers, None),
    ):
        response = await client.request(method, path, headers=headers, json=body)
        assert response.status_code == 403, (method, path, response.text)
    # Nothing changed.
    rows = await history(client, centre.centre.nurse_token, patient)
    assert [r["minutes"] for r in rows] == [10]


def _gp_contact() -> dict[str, Any]:
    return {"kind": "gp_contact", "started_at": "2026-03-05T09:00:00+01:00"}


async def test_external_events_are_reported_once_and_corrected_by_a_new_row(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre, patient = await _patient(client, app, settings)
    system = mint_token(settings, role=Role.system, subject="epj-gateway", centres=[centre.id])
    body = {
        "kind": "hospital_stay",
        "started_at": "2026-03-02T10:00:00+01:00",
        "external_id": "episode-4711",
    }
    path = f"/api/patients/{patient.id}/external-events"
    first = await client.post(path, json=body, headers=auth(system))
    retry = await client.post(path, json=body, headers=auth(system))
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json()["id"] == first.json()["id"]
    assert first.json()["reported_by_role"] == "system"
    discharged = await client.post(
        f"/api/external-events/{first.json()['id']}/corrections",
        json={"ended_at": "2026-03-06T12:00:00+01:00"},
        headers=auth(centre.centre.admin_token),
    )
    assert discharged.status_code == 201, discharged.text
    assert discharged.json()["corrects"] == first.json()["id"]
    listed = await client.get(path, headers=auth(centre.centre.nurse_token))
    assert [(r["ended_at"], r["corrected_by"]) for r in listed.json()] == [
        (None, discharged.json()["id"]),
        ("2026-03-06T11:00:00Z", None),
    ]
    for bad in (
        {
            "kind": "gp_contact",
            "started_at": "2026-03-02T10:00:00Z",
            "ended_at": "2026-03-03T10:00:00Z",
        },
        {"kind": "home_care_hours", "started_at": "2026-03-02T10:00:00Z"},
        {
            "kind": "hospital_stay",
            "started_at": "2026-03-02T10:00:00Z",
            "ended_at": "2026-03-01T10:00:00Z",
        },
        {"kind": "nursing_home", "started_at": "2026-03-02T10:00:00Z"},
    ):
        response = await client.post(path, json=bad, headers=auth(centre.centre.admin_token))
        assert response.status_code == 422, bad
    wrong = await client.post(
        f"/api/external-events/{discharged.json()['id']}/corrections",
        json={"kind": "gp_contact"},
        headers=auth(centre.centre.admin_token),
    )
    assert wrong.status_code == 400, wrong.text  # a GP contact has no discharge


async def test_pausing_and_resuming_leave_a_status_history(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre, patient = await _patient(client, app, settings)
    await set_care_plan(client, patient, "hypertension")
    for status in ("paused", "active", "ended"):
        response = await client.post(
            f"/api/patients/{patient.id}/status",
            json={"status": status, "reason": "hospital stay"},
            headers=auth(centre.centre.nurse_token),
        )
        assert response.status_code == 200, response.text
    table = PatientStatusChange.__table__  # type: ignore[attr-defined]
    async with app.state.dho.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(table.c.status, table.c.changed_at, table.c.centre_id)
                .where(table.c.patient_id == patient.id)
                .order_by(table.c.changed_at)
            )
        ).all()
    assert [r.status for r in rows] == ["paused", "active", "ended"]
    assert {r.centre_id for r in rows} == {centre.id}
    assert all(abs(datetime.now(UTC) - r.changed_at) < timedelta(minutes=1) for r in rows)
