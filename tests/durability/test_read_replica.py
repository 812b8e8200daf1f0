"""A research export runs from a streaming read replica (``DHO_READ_DATABASE_URL``).

The test makes a primary cluster of its own, streams a standby from it
(``pg_basebackup -R``, loopback) and points the service at both. To show the export
really reads the replica, replay is paused and one more reading stored on the
primary: the export from the replica does not have it; once replay resumes, an export
has exactly the primary's readings. The replica refuses writes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from service.app import create_app
from service.migrate import upgrade
from service.research import runner
from service.settings import Settings
from tests.durability.clusters import Cluster, primary_and_standby, wait_for_replay
from tests.factories import EnrolledPatient, create_centre, enrol, observation
from tests.research.helpers import ASYNC, bearer, register_study, researcher

pytestmark = pytest.mark.postgres
NOW = datetime.now(UTC).replace(microsecond=0)


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    app: Any = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dho.test") as client:
            yield app, client


async def exported_readings(
    app: Any, client: httpx.AsyncClient, settings: Settings, study_id: str, token: str
) -> list[dict[str, Any]]:
    """Kick off, run the queued job as the worker does (reading from the app's read
    engine), and answer the Observation resources written."""
    started = await client.post(
        f"/fhir/Group/{study_id}/$export", headers={**bearer(token), **ASYNC}
    )
    assert started.status_code == 202, started.text
    state = app.state.dho
    tools = runner.tools_for(state.engine, state.vault, state.catalogue, state.read_engine)
    assert await runner.run_pending(tools, settings) == 1
    done = await client.get(started.headers["Content-Location"], headers=bearer(token))
    assert done.status_code == 200, done.text
    [entry] = [f for f in done.json()["extension"]["files"] if f["name"] == "Observation.ndjson"]
    body = (await client.get(entry["url"], headers=bearer(token))).text
    return [json.loads(line) for line in body.splitlines() if line]


async def post_reading(client: httpx.AsyncClient, patient: EnrolledPatient, hours: int) -> None:
    reading = observation(patient.id, "8867-4", 60 + hours, effective=NOW - timedelta(hours=hours))
    posted = await client.post("/fhir/Observation", json=reading, headers=patient.headers)
    assert posted.status_code == 201, posted.text


async def primary_readings(primary: Cluster, centre_id: str) -> int:
    query = f"SELECT count(*) FROM observation WHERE centre_id = '{centre_id}'"  # noqa: S608
    return int(primary.psql(query, "dho"))


async def test_an_export_reads_from_the_replica(tmp_path: Path) -> None:
    with primary_and_standby() as (primary, standby):
        primary.psql("CREATE DATABASE dho")
        await asyncio.to_thread(upgrade, primary.url("dho"))
        settings = Settings(
            database_url=primary.url("dho"),
            read_database_url=standby.url("dho"),
            var_dir=tmp_path,
            db_pool_size=2,
            jobs_in_process=False,
        )
        async with serving(settings) as (app, client):
            centre = await create_centre(app, settings)
            patients = [await enrol(client, settings, centre) for _ in range(2)]
            for patient in patients:
                for hours in (30, 8):
                    await post_reading(client, patient, hours)
            subject, token = researcher(settings)
            study = await register_study(client, centre, [subject], k=1)
            wait_for_replay(primary, standby)

            standby.psql("SELECT pg_wal_replay_pause()", "dho")
            await post_reading(client, patients[0], 2)
            lagging = await exported_readings(app, client, settings, study["id"], token)
            assert len(lagging) == 4  # the replica's rows: not the reading stored since
            assert await primary_readings(primary, centre.id) == 5

            standby.psql("SELECT pg_wal_replay_resume()", "dho")
            wait_for_replay(primary, standby)
            current = await exported_readings(app, client, settings, study["id"], token)
            assert len(current) == await primary_readings(primary, centre.id) == 5
            values = sorted(r["valueQuantity"]["value"] for r in current)
            assert values == [62, 68, 68, 90, 90]

        replica = create_async_engine(standby.url("dho"))
        try:
            with pytest.raises(sa.exc.DBAPIError, match="read-only transaction"):
                async with replica.begin() as conn:
                    await conn.execute(sa.text("DELETE FROM observation"))
        finally:
            await replica.dispose()
