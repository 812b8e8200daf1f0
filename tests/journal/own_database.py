"""A database of its own, and the service's app on it, for a journal test that runs a
real ``dho worker`` or ``dho demo``: the worker's jobs and sender scan every centre, and
the demo's centres are fixed ids, so neither may meet the session's shared database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.app import create_app
from service.migrate import upgrade
from service.settings import Settings
from tests.conftest import Database, _create_postgres_database, _drop_postgres_database

DHO = str(Path(sys.executable).parent / "dho")


@asynccontextmanager
async def own_database(database: Database, where: Path) -> AsyncIterator[str]:
    """A fresh, migrated database of the session's kind (the URL); dropped after."""
    if database.kind == "sqlite":
        url = f"sqlite+aiosqlite:///{where / 'own.sqlite3'}"
        await asyncio.to_thread(upgrade, url)
        yield url
        return
    created = await _create_postgres_database()
    if created is None:
        pytest.skip("PostgreSQL is not available")
    try:
        await asyncio.to_thread(upgrade, created)
        yield created
    finally:
        await _drop_postgres_database(created)


@asynccontextmanager
async def own_app(settings: Settings) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """The app on ``settings`` (no jobs in process), and a client that calls it."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dho.test") as client:
            yield app, client


def dho_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a ``dho`` process on the test's database and var dir (the
    identity vault's key is there: the worker must decrypt what the app encrypted)."""
    return {
        **os.environ,
        "DHO_DATABASE_URL": settings.database_url,
        "DHO_VAR_DIR": str(settings.var_dir),
        "DHO_LOG_LEVEL": "WARNING",
        **extra,
    }


async def dho(settings: Settings, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """``dho <args>`` to its end, as an operator runs it."""
    done = await asyncio.to_thread(
        subprocess.run,
        [DHO, *args],
        env=dho_env(settings, **extra),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
    return done
