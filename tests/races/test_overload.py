"""Overload is refused at once: with the pool's connections lent and its queue full, the
next request is answered 503 with Retry-After before it touches the database, and the
requests already admitted finish normally (issue #17, "Shutdown and back-pressure")."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tests.factories import auth, blood_pressure, create_centre, enrol, queue_of, set_care_plan
from tests.races.conftest import until

# One pooled connection and one overflow, no queue: two requests in, the third refused.
SMALL_POOL = {"db_pool_size": 1, "db_queue_limit": 0}


@pytest.mark.parametrize("own_postgres", [SMALL_POOL], indirect=True)
async def test_a_full_pool_refuses_the_next_request_with_retry_after(
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
    admission = app.state.dho.admission

    # The nurse's connection is not the app's: the app's pool holds only the two readings.
    outside = create_async_engine(settings.database_url)
    async with outside.connect() as nurse:
        # Two readings wait for the nurse's lock on the item: the process is full.
        await nurse.execute(
            sa.text("SELECT id FROM triage_item WHERE id = :id FOR UPDATE"), {"id": item["id"]}
        )
        readings = [
            asyncio.create_task(
                client.post(
                    "/fhir/Observation",
                    json=blood_pressure(
                        patient.id, 200 + n, 99, effective=datetime.now(UTC) - timedelta(seconds=n)
                    ),
                    headers=patient.headers,
                )
            )
            for n in (1, 2)
        ]

        async def full() -> bool:
            return bool(admission.in_use == 2)

        await until(full)
        fhir = await client.get(
            "/fhir/Observation", params={"patient": patient.id}, headers=patient.headers
        )
        api = await client.get("/api/queue", headers=auth(centre.nurse_token))
        await nurse.rollback()
        answers = await asyncio.gather(*readings)
    await outside.dispose()

    assert fhir.status_code == 503
    assert fhir.headers["Retry-After"] == "2"
    assert fhir.json()["issue"][0]["code"] == "transient"
    assert api.status_code == 503
    assert api.json()["error"] == "unavailable"
    assert [a.status_code for a in answers] == [201, 201]
    assert admission.in_use == 0
