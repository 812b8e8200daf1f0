"""``dho worker --once`` as cron or an operator after downtime runs it: a real process,
every job once, then exit; a failed job makes the exit status non-zero."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from service.settings import Settings
from tests.factories import create_centre, queue_of, set_care_plan
from tests.ingest.history_helpers import enrol_from

DHO = str(Path(sys.executable).parent / "dho")
JOB_NAMES = ("missing_readings", "sla_escalations", "wake_snoozed", "research_exports", "journal")


async def _worker_once(database_url: str, var_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DHO_DATABASE_URL": database_url,
        "DHO_VAR_DIR": str(var_dir),
        "DHO_LOG_LEVEL": "CRITICAL",
    }
    return await asyncio.to_thread(
        subprocess.run,
        [DHO, "worker", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_once_runs_every_job_now_and_exits(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    """A patient whose follow-up started three days ago and who never measured: the
    missing-reading job, run once, puts them in the queue."""
    centre = await create_centre(app, settings)
    start = datetime.now(UTC).date() - timedelta(days=3)
    patient = await enrol_from(client, settings, centre, start)
    await set_care_plan(client, patient, "heart_failure")
    assert await queue_of(client, centre) == []
    done = await _worker_once(settings.database_url, settings.var_dir)
    assert done.returncode == 0, done.stderr
    ran = [line.split(":")[0] for line in done.stdout.splitlines()]
    assert ran == list(JOB_NAMES)
    [item] = await queue_of(client, centre)
    assert {f["rule"] for f in item["findings"]} == {"missing.reading"}
    # Run again at once: the findings are the same gap, so nothing new is raised.
    again = await _worker_once(settings.database_url, settings.var_dir)
    assert again.returncode == 0, again.stderr
    [same] = await queue_of(client, centre)
    assert len(same["findings"]) == len(item["findings"])


async def test_a_failed_job_makes_the_exit_status_non_zero(tmp_path: Path) -> None:
    """On a database without the schema every job fails; each is named on stderr."""
    empty = f"sqlite+aiosqlite:///{tmp_path / 'not-migrated.sqlite3'}"
    done = await _worker_once(empty, tmp_path)
    assert done.returncode == 1
    for name in JOB_NAMES:
        assert f"{name}: FAILED" in done.stderr
