"""``dho export --study ID --out DIR`` writes the same files as the API, with a progress
bar on stderr and every file's SHA-256 on stdout."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from service.settings import Settings
from tests.factories import create_centre, enrol, observation
from tests.research.helpers import register_study, researcher

# The console script, as an operator runs it.
DHO = str(Path(sys.executable).parent / "dho")


def _digests(listed: dict[str, str]) -> dict[str, str]:
    return {path: hashlib.sha256(Path(path).read_bytes()).hexdigest() for path in listed}


async def test_the_command_line_export_writes_checked_files_and_is_audited(
    client: httpx.AsyncClient, app: Any, settings: Settings, tmp_path: Path
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    posted = await client.post(
        "/fhir/Observation", json=observation(patient.id), headers=patient.headers
    )
    assert posted.status_code == 201
    subject, _ = researcher(settings)
    study = await register_study(client, centre, [subject], k=1)
    out = tmp_path / "export"
    env = {
        **os.environ,
        "DHO_DATABASE_URL": settings.database_url,
        "DHO_VAR_DIR": str(settings.var_dir),
        "DHO_LOG_LEVEL": "WARNING",
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [DHO, "export", "--study", study["id"], "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "100%" in done.stderr
    listed = dict(line.split("  ", 1)[::-1] for line in done.stdout.splitlines())
    assert str(out / "Observation.ndjson") in listed
    assert str(out / "readings.parquet") in listed
    assert await asyncio.to_thread(_digests, listed) == listed
    readings = await asyncio.to_thread((out / "readings.csv").read_text)
    assert patient.id not in readings
    async with app.state.dho.engine.connect() as conn:
        query = sa.text(
            "SELECT actor FROM audit_event WHERE resource_type = 'Group' AND resource_id = :s"
        )
        actors = set((await conn.execute(query, {"s": study["id"]})).scalars())
    assert len(actors) == 1
    assert next(iter(actors)).startswith("dho-cli:")
    again = await asyncio.to_thread(
        subprocess.run,
        [DHO, "export", "--study", study["id"], "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert again.returncode == 2
