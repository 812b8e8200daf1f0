"""Backup and restore drill: what a region's operator does after losing the database.

A database is loaded through the service (patients, readings, a triage item, audit
records), dumped with ``pg_dump``, restored into a fresh database with
``pg_restore``; ``dho migrate`` then has nothing to do, and the service on the restored
database answers the same searches, queue and audit trail as on the original.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from service.app import create_app
from service.migrate import upgrade
from service.settings import Settings
from tests.audit.helpers import audit_records, auditor_token
from tests.conftest import Database, _create_postgres_database, _drop_postgres_database
from tests.durability.clusters import server_bin
from tests.factories import (
    EnrolledPatient,
    auth,
    blood_pressure,
    create_centre,
    enrol,
    observation,
    set_care_plan,
)

pytestmark = pytest.mark.postgres


def tool(name: str) -> str:
    found = server_bin()
    if found is not None and (found / name).exists():
        return str(found / name)
    on_path = shutil.which(name)
    if on_path is None:
        pytest.skip(f"{name} is not installed")
    return on_path


def libpq_args(url: str) -> list[str]:
    parsed = make_url(url)
    return [
        f"--host={parsed.host or '127.0.0.1'}",
        f"--port={parsed.port or 5432}",
        f"--username={parsed.username or 'postgres'}",
        f"--dbname={parsed.database}",
    ]


def run(command: list[str], env: dict[str, str] | None = None) -> str:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def without_restrict_keys(script: str) -> str:
    """pg_dump writes a random key on its ``\\restrict`` lines, new on every run."""
    return "\n".join(line for line in script.splitlines() if "restrict " not in line[:12])


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    app: Any = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dho.test") as client:
            yield app, client


async def answers(
    client: httpx.AsyncClient, patients: list[EnrolledPatient], nurse: str
) -> dict[str, Any]:
    """What a nurse and the patients see: searches and the queue."""
    seen: dict[str, Any] = {}
    for patient in patients:
        found = await client.get(
            "/fhir/Observation", params={"patient": patient.id, "_count": 100}, headers=auth(nurse)
        )
        assert found.status_code == 200, found.text
        seen[f"observations {patient.id}"] = [e["resource"] for e in found.json()["entry"]]
        own = await client.get(f"/fhir/Patient/{patient.id}", headers=patient.headers)
        assert own.status_code == 200, own.text
        seen[f"patient {patient.id}"] = own.json()
    queue = await client.get("/api/queue", headers=auth(nurse))
    assert queue.status_code == 200, queue.text
    seen["queue"] = queue.json()
    return seen


async def test_a_restored_dump_answers_as_the_original(
    database: Database, var_dir: Path, tmp_path: Path
) -> None:
    if database.kind != "postgres":
        pytest.skip("the drill is of PostgreSQL's pg_dump and pg_restore")
    original_url = await _create_postgres_database()
    restored_url = await _create_postgres_database()
    assert original_url
    assert restored_url
    try:
        await _drill(original_url, restored_url, var_dir, tmp_path)
    finally:
        await _drop_postgres_database(original_url)
        await _drop_postgres_database(restored_url)


async def _drill(original_url: str, restored_url: str, var_dir: Path, tmp_path: Path) -> None:
    import asyncio

    await asyncio.to_thread(upgrade, original_url)
    settings = Settings(database_url=original_url, var_dir=var_dir, jobs_in_process=False)
    async with serving(settings) as (app, client):
        centre = await create_centre(app, settings)
        patients = [await enrol(client, settings, centre) for _ in range(3)]
        for n, patient in enumerate(patients):
            await set_care_plan(client, patient)
            for value in (70 + n, 75 + n):
                posted = await client.post(
                    "/fhir/Observation", json=observation(patient.id, value=value),
                    headers=patient.headers,
                )  # fmt: skip
                assert posted.status_code == 201, posted.text
        red = blood_pressure(patients[0].id, 190, 100)
        assert (
            await client.post("/fhir/Observation", json=red, headers=patients[0].headers)
        ).is_success
        before = await answers(client, patients, centre.nurse_token)
        assert before["queue"]["items"], "the load should have opened an item"
        auditor = auditor_token(settings, centre)
        trail = await audit_records(client, auditor)
        assert len(trail) > 10

    dump = tmp_path / "dho.dump"
    run([tool("pg_dump"), *libpq_args(original_url), "--format=custom", f"--file={dump}"])
    run([tool("pg_restore"), *libpq_args(restored_url), "--exit-on-error", str(dump)])
    schema = [tool("pg_dump"), *libpq_args(restored_url), "--schema-only"]
    restored_schema = without_restrict_keys(run(schema))
    run(
        [str(Path(sys.executable).parent / "dho"), "migrate"],
        {**os.environ, "DHO_DATABASE_URL": restored_url, "DHO_VAR_DIR": str(var_dir)},
    )
    assert without_restrict_keys(run(schema)) == restored_schema  # nothing for `dho migrate` to do
    assert "alembic_version" in restored_schema

    restored_settings = settings.model_copy(update={"database_url": restored_url})
    async with serving(restored_settings) as (_, client):
        assert await answers(client, patients, centre.nurse_token) == before
        again = {record["id"]: record for record in await audit_records(client, auditor)}
        assert [again.get(record["id"]) for record in trail] == trail
