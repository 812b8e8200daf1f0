"""``dho worker``: the process that runs background jobs beside the API.

Jobs register in ``JOBS``; each runs on its own interval. The triage issue adds the
missing-reading scan and SLA escalations here (with PostgreSQL advisory locks so
that several replicas run each tick once). Until then the worker runs no job and
says so at start-up, and only checks that the database answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from service.database import create_engine
from service.logs import configure
from service.settings import Settings

log = logging.getLogger("dho.worker")


@dataclass(frozen=True)
class Job:
    name: str
    interval_seconds: float
    run: Callable[[AsyncEngine], Awaitable[None]]


JOBS: list[Job] = []


async def run(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    configure(settings.log_level)
    engine = create_engine(settings)
    stop = stop or asyncio.Event()
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
        log.info("worker started", extra={"count": len(JOBS)})
        tasks = [asyncio.create_task(_loop(job, engine, stop)) for job in JOBS]
        await stop.wait()
        for task in tasks:
            task.cancel()
    finally:
        await engine.dispose()


async def _loop(job: Job, engine: AsyncEngine, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await job.run(engine)
        except Exception:  # one failed tick must not end the worker
            log.exception("job failed", extra={"event": job.name})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=job.interval_seconds)
