"""A reading and a nurse resolving that patient's item at the same moment: the reading is
stored and raises a new item, never a 500 (issue #17, "Seen already")."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from tests.factories import auth, blood_pressure, create_centre, enrol, queue_of, set_care_plan
from tests.races.conftest import until, waiting_on_locks


async def test_a_reading_while_the_nurse_resolves_the_item_opens_a_new_one(
    own_postgres: tuple[Any, httpx.AsyncClient, Any],
) -> None:
    app, client, settings = own_postgres
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "heart_failure")
    first = await client.post(
        "/fhir/Observation", json=blood_pressure(patient.id, 190, 95), headers=patient.headers
    )
    assert first.status_code == 201, first.text
    [item] = await queue_of(client, centre)

    engine = app.state.dho.engine
    async with engine.connect() as nurse, engine.connect() as watcher:
        # The nurse's resolve has the item locked when the reading's triage reaches it;
        # the reading's "unless an unresolved item exists" insert has already met it.
        await nurse.begin()
        await nurse.execute(
            sa.text("SELECT id FROM triage_item WHERE id = :id FOR UPDATE"), {"id": item["id"]}
        )
        later = datetime.now(UTC) - timedelta(minutes=1)
        reading = asyncio.create_task(
            client.post(
                "/fhir/Observation",
                json=blood_pressure(patient.id, 195, 98, effective=later),
                headers=patient.headers,
            )
        )

        async def reading_held() -> bool:
            return reading.done() or await waiting_on_locks(watcher) >= 1

        await until(reading_held)
        await nurse.execute(
            sa.text(
                "UPDATE triage_item SET state = 'resolved', resolved_at = now(),"
                " resolved_by = 'nurse', version = version + 1 WHERE id = :id"
            ),
            {"id": item["id"]},
        )
        await nurse.commit()
        answer = await reading

    assert answer.status_code == 201, answer.text
    [opened] = await queue_of(client, centre)
    assert opened["id"] != item["id"]
    assert opened["severity"] == "red"
    history = await client.get(
        f"/api/queue/{opened['id']}/history", headers=auth(centre.nurse_token)
    )
    assert [e["kind"] for e in history.json()] == ["created"]
