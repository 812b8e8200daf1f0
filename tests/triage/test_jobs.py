"""The worker's jobs at a chosen "now": a red nobody claims is escalated, a reading
that never comes is reported, a snooze ends, and a tick runs once however many
replicas try it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from service.queue import jobs
from service.worker.ticks import run_tick
from tests.factories import (
    auth,
    blood_pressure,
    create_centre,
    enrol,
    observation,
    queue_of,
    set_care_plan,
)


async def _red_item(client: httpx.AsyncClient, app: Any, settings: Any) -> Any:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "heart_failure")
    await client.post(
        "/fhir/Observation", json=blood_pressure(patient.id, 190, 95), headers=patient.headers
    )
    [item] = await queue_of(client, centre)
    return centre, patient, item


async def _run(app: Any, body: Any, now: datetime) -> str:
    async with app.state.dho.engine.begin() as conn:
        result: str = await body(conn, now)
    return result


async def test_a_red_not_claimed_within_the_centres_sla_is_escalated_once(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    centre, _, item = await _red_item(client, app, settings)
    admin = auth(centre.admin_token)
    policy = await client.put(
        f"/api/centres/{centre.id}/queue-policy",
        json={"red_claim_minutes": 10, "red_resolve_minutes": 60},
        headers=admin,
    )
    assert policy.status_code == 200, policy.text
    opened = datetime.fromisoformat(item["waiting_since"])
    await _run(app, jobs.escalate_overdue, opened + timedelta(minutes=9))
    assert (await queue_of(client, centre))[0]["escalated_at"] is None
    await _run(app, jobs.escalate_overdue, opened + timedelta(minutes=11))
    await _run(app, jobs.escalate_overdue, opened + timedelta(minutes=12))
    [escalated] = await queue_of(client, centre)
    assert escalated["escalation"] == "sla.claim"
    history = await client.get(f"/api/queue/{item['id']}/history", headers=auth(centre.nurse_token))
    assert [e["kind"] for e in history.json()] == ["created", "escalated"]


async def test_a_claimed_red_not_resolved_in_time_is_escalated(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    centre, _, item = await _red_item(client, app, settings)
    claimed = await client.post(f"/api/queue/{item['id']}/claim", headers=auth(centre.nurse_token))
    claimed_at = datetime.fromisoformat(claimed.json()["claimed_at"])
    await _run(app, jobs.escalate_overdue, claimed_at + timedelta(minutes=119))
    assert (await queue_of(client, centre))[0]["escalation"] is None
    await _run(app, jobs.escalate_overdue, claimed_at + timedelta(minutes=121))
    assert (await queue_of(client, centre))[0]["escalation"] == "sla.resolve"


async def test_a_patient_who_stops_measuring_gets_one_missing_reading_item(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    """Heart failure expects a weight every 24 h, with 6 h window and 6 h grace: missing
    36 h after the last one, and the same gap is reported once however often we scan."""
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "heart_failure")
    last = datetime.now(UTC) - timedelta(minutes=10)
    for resource in (
        observation(patient.id, "29463-7", 80.0, "kg", effective=last),
        blood_pressure(patient.id, 130, 80, effective=last),
    ):
        posted = await client.post("/fhir/Observation", json=resource, headers=patient.headers)
        assert posted.status_code == 201
    await _run(app, jobs.scan_missing_readings, last + timedelta(hours=35))
    assert await queue_of(client, centre) == []
    for hours in (37, 38, 60):
        await _run(app, jobs.scan_missing_readings, last + timedelta(hours=hours))
    [item] = await queue_of(client, centre)
    rules = sorted((f["rule"], f["measurement"]) for f in item["findings"])
    # The protocol schedules the blood-pressure panel by its systolic value.
    assert rules == [("missing.reading", "body_weight"), ("missing.reading", "systolic")]
    assert item["severity"] == "yellow"


async def test_a_snoozed_item_returns_when_its_time_is_up(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    centre, _, item = await _red_item(client, app, settings)
    until = datetime.now(UTC) + timedelta(hours=2)
    snoozed = await client.post(
        f"/api/queue/{item['id']}/snooze",
        json={"until": until.isoformat(), "reason": "GP informed, rechecks tomorrow"},
        headers=auth(centre.nurse_token),
    )
    assert snoozed.status_code == 200, snoozed.text
    assert await queue_of(client, centre) == []
    await _run(app, jobs.wake_snoozed, until + timedelta(minutes=1))
    assert [i["state"] for i in await queue_of(client, centre)] == ["open"]


async def test_a_tick_runs_once_however_many_replicas_try(app: Any) -> None:
    runs: list[datetime] = []

    async def body(conn: Any, now: datetime) -> str:
        runs.append(now)
        await asyncio.sleep(0.05)  # hold the transaction while the others try
        return "ran"

    now = datetime(2026, 11, 23, 3, 0, 7, tzinfo=UTC)
    engine = app.state.dho.engine
    name = f"test-{id(body)}"
    results = await asyncio.gather(
        *(run_tick(engine, name, 60, body, now + timedelta(seconds=s)) for s in range(4))
    )
    assert sorted(results, key=str) == [None, None, None, "ran"]
    assert len(runs) == 1
    assert await run_tick(engine, name, 60, body, now + timedelta(seconds=60)) == "ran"
