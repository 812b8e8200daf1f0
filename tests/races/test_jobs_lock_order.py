"""The missing-reading scan and the SLA escalation, run at the same moment over two
centres, both finish: neither is killed by a deadlock on the centres' event counters
(issue #17, "Seen already": the tick it ran in was skipped).

The deadlock needs the two jobs to meet the centres in opposite orders. The test reads
the order each job's own query answers, and lets a transaction that opens an item for
one silent patient hold the scan at the point where it has been through one centre and
not yet the other, while the escalation starts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from service.careplans import repository as careplans
from service.queue import jobs
from service.worker.ticks import run_tick
from tests.factories import (
    Centre,
    EnrolledPatient,
    blood_pressure,
    create_centre,
    enrol,
    observation,
    queue_of,
    set_care_plan,
)
from tests.races.conftest import until, waiting_on_locks

_HOLD = sa.text(
    "INSERT INTO triage_item (id, centre_id, patient_id, severity, critical, technical,"
    " state, opened_at, waiting_since, updated_at, back_in_range, version) VALUES"
    " ('held', :centre, :patient, 'yellow', false, false, 'open', now(), now(), now(),"
    " false, 1)"
)


async def _measuring_red(client: httpx.AsyncClient, settings: Any, centre: Centre) -> Any:
    """A red item nobody claims; the patient measures, so the scan leaves them be."""
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "heart_failure")
    for resource in (
        blood_pressure(patient.id, 190, 95),
        observation(patient.id, "29463-7", 80.0, "kg"),
    ):
        posted = await client.post("/fhir/Observation", json=resource, headers=patient.headers)
        assert posted.status_code == 201, posted.text
    return patient


async def _silent(
    app: Any, client: httpx.AsyncClient, settings: Any, centre: Centre
) -> EnrolledPatient:
    """Enrolled three days ago, never measured: the scan opens an item (and an event)."""
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "heart_failure")
    async with app.state.dho.engine.begin() as conn:
        await conn.execute(
            sa.text(
                "UPDATE patient SET enrolled_at = enrolled_at - interval '3 days',"
                " active_since = NULL WHERE id = :id"
            ),
            {"id": patient.id},
        )
    return patient


async def test_the_scan_and_the_escalation_do_not_deadlock_on_the_centres(
    own_postgres: tuple[Any, httpx.AsyncClient, Any],
) -> None:
    app, client, settings = own_postgres
    engine = app.state.dho.engine
    now = datetime.now(UTC) + timedelta(hours=1)
    centres = [await create_centre(app, settings), await create_centre(app, settings)]
    silent: dict[str, str] = {}
    for _ in range(3):
        for centre in centres:
            silent[(await _silent(app, client, settings, centre)).id] = centre.id
    async with engine.connect() as conn:
        order = [p.id for p in await careplans.active_with_plans(conn) if p.id in silent]
    # The scan meets ``second`` first; it is held at ``first``'s first silent patient,
    # holding only ``second``'s counter. The escalation is made to meet ``first``'s red
    # item first: it takes ``first``'s counter, then wants ``second``'s.
    second = next(c for c in centres if c.id == silent[order[0]])
    first = next(c for c in centres if c is not second)
    held = next(p for p in order if silent[p] == first.id)
    # Opened in this order, the items are met in it by a scan without an order of its own.
    reds = [await _measuring_red(client, settings, c) for c in (first, second)]

    async with engine.connect() as holder, engine.connect() as watcher:
        await holder.begin()
        await holder.execute(_HOLD, {"centre": first.id, "patient": held})
        scan = asyncio.create_task(
            run_tick(engine, "test-scan", 60, jobs.scan_missing_readings, now)
        )

        async def scan_held() -> bool:
            return await waiting_on_locks(watcher) >= 1

        await until(scan_held)
        escalation = asyncio.create_task(
            run_tick(engine, "test-escalation", 60, jobs.escalate_overdue, now)
        )

        async def escalation_done_or_held() -> bool:
            return escalation.done() or await waiting_on_locks(watcher) >= 2

        await until(escalation_done_or_held)
        await holder.rollback()
        results = await asyncio.gather(scan, escalation, return_exceptions=True)

    assert [type(r).__name__ for r in results if isinstance(r, BaseException)] == []
    for centre, red in zip((first, second), reds, strict=True):
        items = {i["patient_id"]: i for i in await queue_of(client, centre)}
        assert items[red.id]["escalation"] == "sla.claim"
        assert {p for p, c in silent.items() if c == centre.id} <= set(items)
