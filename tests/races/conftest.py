"""Races need PostgreSQL (row locks, real concurrent connections; SQLite lets one writer
in at a time) and, for the worker's jobs, a database of their own: the jobs scan every
centre, and other tests' centres would change which lock each job meets first."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from service.app import create_app
from service.settings import Settings
from tests.conftest import _create_postgres_database, _drop_postgres_database, _migrate


@pytest.fixture
async def own_postgres(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Any, httpx.AsyncClient, Settings]]:
    """A fresh database and an app on it; settings overrides by indirect parametrisation."""
    overrides: dict[str, Any] = getattr(request, "param", {})
    url = await _create_postgres_database()
    if url is None:
        pytest.skip("PostgreSQL is not available (see the warning above)")
    try:
        await _migrate(url)
        values: dict[str, Any] = {"db_pool_size": 5, "jobs_in_process": False, **overrides}
        settings = Settings(database_url=url, var_dir=tmp_path, **values)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://dho.test") as c:
                yield app, c, settings
    finally:
        await _drop_postgres_database(url)


async def waiting_on_locks(conn: AsyncConnection) -> int:
    """How many other sessions of this database wait for a lock now (a transaction sees
    one snapshot of the statistics: each look ends its own)."""
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND pid != pg_backend_pid()"
    )
    count = int((await conn.execute(query)).scalar_one())
    await conn.rollback()
    return count


async def until(condition: Callable[[], Awaitable[bool]]) -> None:
    """Wait, by polling the database, for the state a race test sets up next."""
    for _ in range(1000):
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the sessions never reached the state the test waits for")
