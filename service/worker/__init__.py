"""``dho worker``: the process that runs background jobs beside the API.

Each job runs once per tick of its interval across all replicas (``ticks``), so the
worker can be scaled out or restarted freely. On the embedded SQLite default the same
loop runs inside ``dho serve`` (``Settings.jobs_in_process``), so ``make run`` needs
one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from service.database import create_engine, create_read_engine, dispose
from service.logs import configure
from service.models_base import utcnow
from service.queue import jobs as queue_jobs
from service.settings import Settings
from service.worker.ticks import JobBody, run_tick, seconds_to_next_tick

log = logging.getLogger("dho.worker")


@dataclass(frozen=True)
class Job:
    name: str
    interval_seconds: float
    body: JobBody


JOBS: list[Job] = [
    Job("missing_readings", 300, queue_jobs.scan_missing_readings),
    Job("sla_escalations", 60, queue_jobs.escalate_overdue),
    Job("wake_snoozed", 60, queue_jobs.wake_snoozed),
]


async def run(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    configure(settings.log_level)
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
        await run_jobs(engine, stop or asyncio.Event())
    finally:
        await engine.dispose()


async def run_jobs(engine: AsyncEngine, stop: asyncio.Event) -> None:
    """Every job's loop, until ``stop`` is set."""
    log.info("jobs started", extra={"count": len(JOBS)})
    tasks = [asyncio.create_task(_loop(job, engine, stop)) for job in JOBS]
    try:
        await stop.wait()
        # Each loop ends after the tick it is in (``service.worker.drain`` bounds the wait).
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@dataclass(frozen=True)
class Outcome:
    job: str
    result: str | None  # None: the job failed
    error: str | None = None


async def run_once(settings: Settings) -> list[Outcome]:
    """Every job once, now, one after the other (``dho worker --once``): for an operator
    after downtime, for cron, for tests. Each runs as a tick of its own second, so it runs
    even if a replica ran this interval's tick: the jobs are scans of the present state,
    safe to repeat. Research exports waiting in the queue run too, expired export files
    are swept, and the journal's due messages are sent."""
    from service.fhirkit.catalogue import load_catalogue
    from service.journal import sender as journal
    from service.patients.identity_vault import vault_from_settings
    from service.research import runner as exports

    configure(settings.log_level)
    engine = create_engine(settings)
    reader = create_read_engine(settings, engine)
    outcomes: list[Outcome] = []
    try:
        for job in JOBS:
            try:
                result = await run_tick(engine, job.name, 1, job.body, utcnow())
                outcomes.append(Outcome(job.name, result or "already ran this second"))
            except Exception as error:
                log.exception("job failed", extra={"event": job.name})
                outcomes.append(Outcome(job.name, None, type(error).__name__))
        try:
            tools = exports.tools_for(
                engine, vault_from_settings(settings), load_catalogue(settings.fhir_dir), reader
            )
            await exports.sweep(engine, settings, utcnow())
            ran = await exports.run_pending(tools, settings)
            outcomes.append(Outcome("research_exports", f"{ran} exports run"))
        except Exception as error:
            log.exception("job failed", extra={"event": "research_exports"})
            outcomes.append(Outcome("research_exports", None, type(error).__name__))
        try:
            tries = await journal.send_due(engine, settings, vault_from_settings(settings))
            outcomes.append(Outcome("journal", f"{tries} journal messages tried"))
        except Exception as error:
            log.exception("job failed", extra={"event": "journal"})
            outcomes.append(Outcome("journal", None, type(error).__name__))
    finally:
        await dispose(reader, engine)
    return outcomes


async def _loop(job: Job, engine: AsyncEngine, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            result = await run_tick(engine, job.name, job.interval_seconds, job.body, utcnow())
            if result is not None:
                log.info("job ran", extra={"event": job.name, "result": result})
        except Exception:  # one failed tick must not end the worker
            log.exception("job failed", extra={"event": job.name})
        with contextlib.suppress(TimeoutError):
            wait = seconds_to_next_tick(utcnow(), job.interval_seconds)
            await asyncio.wait_for(stop.wait(), timeout=wait)
