"""Alive is not ready: a process whose database is away or behind is alive, not ready."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from service.app import create_app
from service.migrate import upgrade
from service.settings import Settings
from tests.durability.clusters import free_port


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app: Any = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dho.test") as client:
            yield client


async def test_a_migrated_service_is_alive_and_ready(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health/live")).json() == {"status": "alive"}
    expected = {"status": "ok", "database": "up", "migrations": "at_head"}
    for path in ("/health/ready", "/health"):
        response = await client.get(path)
        assert (response.status_code, response.json()) == (200, expected)


async def test_a_schema_behind_the_code_is_not_ready(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}"
    await asyncio.to_thread(upgrade, url, "0015")
    settings = Settings(database_url=url, var_dir=tmp_path, jobs_in_process=False)
    async with serving(settings) as client:
        assert (await client.get("/health/live")).status_code == 200
        response = await client.get("/health/ready")
        assert response.status_code == 503
        assert response.json() == {
            "status": "unavailable",
            "database": "up",
            "migrations": "behind",
        }


async def test_a_service_without_its_database_is_alive_but_not_ready(tmp_path: Path) -> None:
    nobody = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/dho"
    settings = Settings(database_url=nobody, var_dir=tmp_path, jobs_in_process=False)
    async with serving(settings) as client:
        assert (await client.get("/health/live")).status_code == 200
        response = await client.get("/health/ready")
        assert response.status_code == 503
        assert response.json()["database"] == "down"
