"""Run a job once per tick, however many worker replicas are running.

A tick is claimed by inserting (job, tick) into ``job_run`` inside the transaction that
does the job's work. A second replica's insert of the same row waits for the first
transaction: if it commits, the second does nothing; if it fails (a crash, an error),
the row is gone with the work and the second runs the tick. This gives what advisory
locks give, on both databases, with a record an operator can read (``job_run``), and
without a job library's extra schema and process. The jobs themselves are scans of the
database's state (what is overdue now), so a tick that was missed while every worker was
down is caught up by the next one: jobs survive a restart because they keep no state.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.worker.models import JobRun

job_run = JobRun.__table__  # type: ignore[attr-defined]

JobBody = Callable[[AsyncConnection, datetime], Awaitable[str]]


def tick_of(now: datetime, interval_seconds: float) -> int:
    """The same number in every replica for every moment of one interval."""
    step = max(1, int(interval_seconds))
    return int(now.timestamp()) // step * step


def seconds_to_next_tick(now: datetime, interval_seconds: float) -> float:
    """How long to wait for the next tick's start (a little after it, for clock jitter).

    Waiting a whole interval after a tick that took time drifts across tick boundaries,
    and a boundary crossed while waiting is a tick no replica runs: an SLA check lost.
    """
    step = max(1, int(interval_seconds))
    return step - (now.timestamp() % step) + 0.05


@functools.cache
def _claim(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(job_run).on_conflict_do_nothing().returning(job_run.c.job)


async def run_tick(
    engine: AsyncEngine, name: str, interval_seconds: float, body: JobBody, now: datetime
) -> str | None:
    """Run ``body`` for the tick of ``now`` unless a replica has; answers its result,
    or None when the tick was already taken."""
    async with engine.begin() as conn:
        values = {"job": name, "tick": tick_of(now, interval_seconds), "ran_at": now}
        claimed = (await conn.execute(_claim(conn.dialect.name), values)).first()
        if claimed is None:
            return None
        result = await body(conn, now)
        await conn.execute(
            job_run.update()
            .where(job_run.c.job == name, job_run.c.tick == values["tick"])
            .values(result=result[:200])
        )
        return result
