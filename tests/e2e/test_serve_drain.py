"""SIGTERM drains ``dho serve``: the request in flight is answered (and stored), new
connections are refused, and the process exits cleanly (issue #17, "Shutdown and
back-pressure"). PostgreSQL: a nurse's row lock holds the reading in flight."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from service.settings import Settings
from tests.conftest import Database
from tests.e2e.conftest import _free_port
from tests.factories import blood_pressure, create_centre, enrol, queue_of, set_care_plan
from tests.races.conftest import until, waiting_on_locks

pytestmark = pytest.mark.e2e


async def test_sigterm_lets_the_request_in_flight_finish_and_refuses_new_ones(
    database: Database,
    var_dir: Path,
    tmp_path: Path,
    client: httpx.AsyncClient,
    app: Any,
    settings: Settings,
) -> None:
    if database.kind != "postgres":
        pytest.skip("a row lock holds the request in flight: PostgreSQL")
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "heart_failure")
    await client.post(
        "/fhir/Observation", json=blood_pressure(patient.id, 190, 100), headers=patient.headers
    )
    [item] = await queue_of(client, centre)
    port = _free_port()
    env = {
        **os.environ,
        "DHO_DATABASE_URL": database.url,
        "DHO_VAR_DIR": str(var_dir),
        "DHO_JOBS_IN_PROCESS": "false",
        "DHO_SHUTDOWN_GRACE_SECONDS": "60",
    }
    dho = str(Path(sys.executable).with_name("dho"))
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        server = await asyncio.create_subprocess_exec(
            dho,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    nurse_engine = create_async_engine(database.url)
    try:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:

            async def healthy() -> bool:
                try:
                    return (await http.get("/health")).status_code == 200
                except httpx.TransportError:
                    assert server.returncode is None, log_path.read_text()[-2000:]
                    return False

            await until(healthy)
            async with nurse_engine.connect() as nurse, nurse_engine.connect() as watcher:
                await nurse.execute(
                    sa.text("SELECT id FROM triage_item WHERE id = :id FOR UPDATE"),
                    {"id": item["id"]},
                )
                in_flight = asyncio.create_task(
                    http.post(
                        "/fhir/Observation",
                        json=blood_pressure(patient.id, 195, 101),
                        headers=patient.headers,
                    )
                )

                async def held() -> bool:
                    return await waiting_on_locks(watcher) >= 1

                await until(held)
                server.send_signal(signal.SIGTERM)

                async def refusing() -> bool:
                    try:
                        async with httpx.AsyncClient(base_url=base, timeout=2) as fresh:
                            await fresh.get("/health")
                    except httpx.ConnectError:
                        return True
                    return False

                await until(refusing)
                assert not in_flight.done()
                await nurse.rollback()
                answer = await in_flight
            code = await asyncio.wait_for(server.wait(), 60)
    finally:
        await nurse_engine.dispose()
        if server.returncode is None:
            server.kill()
            await server.wait()
    assert answer.status_code == 201, answer.text
    # Uvicorn, having shut down, ends by the signal it caught: the supervisor's convention.
    assert code in (0, -signal.SIGTERM), log_path.read_text()[-2000:]
    text = log_path.read_text()
    assert "Finished server process" in text
    assert "Traceback" not in text
