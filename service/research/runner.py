"""Runs queued exports: in ``dho worker``, and inside ``dho serve`` on the embedded
SQLite default (``Settings.run_jobs_in_process``), as the other background jobs.

An export is a row (``export_job``), not a task in some process's memory: any process
polls, claims one with a conditional UPDATE (of two claimers one wins), runs it, and
heartbeats while it runs. API processes only insert and read rows and serve files from
``var_dir/exports/<job>``, so they stay stateless. A job whose heartbeat stops (its
process died) is failed by the next sweep and its files deleted; the researcher starts
a new one. The sweep also deletes the files of expired and cancelled exports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from service.fhirkit.catalogue import Catalogue, load_catalogue
from service.models_base import utcnow
from service.patients.identity_vault import IdentityVault, vault_from_settings
from service.research import checks, export, kanon, repository
from service.research.models import ExportStatus
from service.research.pseudonyms import StudyKeyring
from service.research.writers import WrittenFile
from service.settings import Settings

log = logging.getLogger("dho.research")

POLL_SECONDS = 2.0
FILES_KEPT = timedelta(hours=24)
HEARTBEAT_LOST = timedelta(minutes=10)
ERROR_FILE = "OperationOutcome.ndjson"

RUNNING = (ExportStatus.running.value,)


def exports_dir(settings: Settings) -> Path:
    return settings.var_dir / "exports"


def job_dir(settings: Settings, job_id: str) -> Path:
    return exports_dir(settings) / job_id


def tools_for(
    engine: AsyncEngine,
    vault: IdentityVault,
    catalogue: Catalogue,
    reader: AsyncEngine | None = None,
) -> export.Tools:
    """``reader``: where the export reads its rows (a read replica), if not ``engine``."""
    return export.Tools(engine, StudyKeyring.from_vault(vault), catalogue, reader)


async def run_pending(tools: export.Tools, settings: Settings) -> int:
    """Claim and run queued exports until none is left; answers how many ran."""
    ran = 0
    while (job_id := await _claim(tools.engine)) is not None:
        await run_job(tools, settings, job_id)
        ran += 1
    return ran


async def _claim(engine: AsyncEngine) -> str | None:
    while True:
        async with engine.begin() as conn:
            job_id = await repository.next_queued(conn)
            if job_id is None:
                return None
            now = utcnow()
            queued = (ExportStatus.queued.value,)
            values = {"status": ExportStatus.running, "started_at": now, "heartbeat_at": now}
            if await repository.move(conn, job_id, queued, **values):
                return job_id


async def run_job(tools: export.Tools, settings: Settings, job_id: str) -> None:
    """Run one claimed (running) job to completed, failed or cancelled."""
    async with tools.engine.connect() as conn:
        job = await repository.get_job(conn, job_id)
    if job is None:
        return
    directory = job_dir(settings, job_id)

    async def progress(share: float) -> bool:
        async with tools.engine.begin() as conn:
            values = {"progress": share, "heartbeat_at": utcnow()}
            return await repository.move(conn, job_id, RUNNING, **values)

    try:
        files = await export.run(tools, job.study_id, job.transaction_time, directory, progress)
    except export.Cancelled:
        return
    except (kanon.AnonymityNotReached, checks.CheckFailed) as error:
        prefix = "post-write check failed: " if isinstance(error, checks.CheckFailed) else ""
        await _fail(tools.engine, settings, job_id, prefix + str(error))
        return
    except Exception:
        # The log formatter keeps the type and place, never the message (it may quote
        # data); the client gets neither.
        log.exception("export failed", extra={"event": "export", "result": job_id})
        await _fail(tools.engine, settings, job_id, f"the export failed; quote job {job_id}")
        return
    now = utcnow()
    async with tools.engine.begin() as conn:
        done = await repository.move(
            conn,
            job_id,
            RUNNING,
            status=ExportStatus.completed,
            progress=1.0,
            files=files,
            finished_at=now,
            expires_at=now + FILES_KEPT,
        )
    if not done:  # cancelled in the last moment
        await asyncio.to_thread(shutil.rmtree, directory, True)


async def _fail(engine: AsyncEngine, settings: Settings, job_id: str, message: str) -> None:
    """Failed: no data file survives; one OperationOutcome says why, without data."""
    directory = job_dir(settings, job_id)
    outcome: dict[str, Any] = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "fatal", "code": "processing", "diagnostics": message}],
    }
    error_file = await asyncio.to_thread(_write_error, directory, outcome)
    now = utcnow()
    async with engine.begin() as conn:
        failed = await repository.move(
            conn,
            job_id,
            RUNNING,
            status=ExportStatus.failed,
            files=[error_file],
            error=message,
            finished_at=now,
            expires_at=now + FILES_KEPT,
        )
    if not failed:
        await asyncio.to_thread(shutil.rmtree, directory, True)


def _write_error(directory: Path, outcome: dict[str, Any]) -> dict[str, Any]:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    (directory / ERROR_FILE).write_bytes(orjson.dumps(outcome) + b"\n")
    return WrittenFile(ERROR_FILE, "OperationOutcome", "ndjson", 1).describe(directory)


async def sweep(engine: AsyncEngine, settings: Settings, now: datetime) -> int:
    """Expire old exports, fail those whose process died, and delete the files of every
    job that no longer has any to serve. Answers how many jobs changed."""
    job = repository.job
    changed = 0
    async with engine.begin() as conn:
        done = (ExportStatus.completed.value, ExportStatus.failed.value)
        for row in await repository.jobs_where(
            conn, job.c.status.in_(done), job.c.expires_at < now
        ):
            changed += await repository.move(conn, row.id, done, status=ExportStatus.expired)
        lost = await repository.jobs_where(
            conn, job.c.status == ExportStatus.running, job.c.heartbeat_at < now - HEARTBEAT_LOST
        )
        for row in lost:
            message = "the export was interrupted; start a new one"
            changed += await repository.move(
                conn,
                row.id,
                RUNNING,
                status=ExportStatus.failed,
                error=message,
                files=[],
                finished_at=now,
                expires_at=now + FILES_KEPT,
            )
        gone = (ExportStatus.cancelled.value, ExportStatus.expired.value)
        stale = {r.id for r in await repository.jobs_where(conn, job.c.status.in_(gone))}
        stale |= {r.id for r in lost}
    await asyncio.to_thread(_delete_dirs, exports_dir(settings), stale)
    return changed


def _delete_dirs(root: Path, job_ids: set[str]) -> None:
    if not root.is_dir():
        return
    for path in root.iterdir():
        if path.name in job_ids:
            shutil.rmtree(path, ignore_errors=True)


async def run_loop(tools: export.Tools, settings: Settings, stop: asyncio.Event) -> None:
    """Sweep and run exports until ``stop`` is set."""
    while not stop.is_set():
        try:
            await sweep(tools.engine, settings, utcnow())
            await run_pending(tools, settings)
        except Exception as error:  # one failed round must not end the loop
            log.error("export round failed", extra={"error_type": type(error).__name__})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=POLL_SECONDS)


async def run(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """The loop on an engine of its own: what ``dho worker`` runs beside its jobs."""
    from service.database import create_engine, create_read_engine, dispose

    engine = create_engine(settings)
    reader = create_read_engine(settings, engine)
    try:
        vault, catalogue = vault_from_settings(settings), load_catalogue(settings.fhir_dir)
        tools = tools_for(engine, vault, catalogue, reader)
        await run_loop(tools, settings, stop or asyncio.Event())
    finally:
        await dispose(reader, engine)
