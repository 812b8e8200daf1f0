"""The suite runs on SQLite and on PostgreSQL: every test that uses ``client`` runs twice.

Each database is created fresh for the session and migrated with the real Alembic
history (no ``create_all``). Tests do not share rows: every test creates its own
centre and patients with unique ids, which also lets end-to-end and concurrency tests
use the same database as a real server process would.

PostgreSQL comes from ``DHO_TEST_DATABASE_URL`` (a server URL; the suite creates and
drops its own database there), else 127.0.0.1:5432 as user postgres. Where there is
none, the PostgreSQL leg is skipped loudly, unless ``DHO_TEST_REQUIRE_POSTGRES=1``
(set by ``.ci/run``), which makes it a failure.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from service.app import create_app
from service.migrate import upgrade
from service.settings import Settings

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
_SKIPPED_POSTGRES: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say it loudly at the end, where nobody scrolls past it."""
    for reason in _SKIPPED_POSTGRES:
        terminalreporter.section("POSTGRESQL LEG SKIPPED", sep="*", red=True, bold=True)
        terminalreporter.line(f"{reason}: only SQLite was tested.", red=True, bold=True)


@dataclass(frozen=True)
class Database:
    kind: str
    url: str


def _postgres_server_url() -> str:
    return os.environ.get("DHO_TEST_DATABASE_URL", DEFAULT_POSTGRES)


async def _create_postgres_database() -> str | None:
    server = make_url(_postgres_server_url())
    name = f"dho_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_async_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except (OSError, sa.exc.DBAPIError, sa.exc.InterfaceError) as error:
        where = server.render_as_string(hide_password=True)
        reason = f"PostgreSQL not reachable at {where}: {type(error).__name__}"
        if os.environ.get("DHO_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason} (DHO_TEST_REQUIRE_POSTGRES=1: CI must run both legs)")
        _SKIPPED_POSTGRES.append(reason)
        return None
    finally:
        await admin.dispose()
    return server.set(database=name).render_as_string(hide_password=False)


async def _drop_postgres_database(url: str) -> None:
    target = make_url(url)
    admin = create_async_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@pytest.fixture(scope="session")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("var")


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "dho.sqlite3"
        url = f"sqlite+aiosqlite:///{path}"
        await _migrate(url)
        yield Database("sqlite", url)
        return
    url = await _create_postgres_database()
    if url is None:
        pytest.skip("PostgreSQL is not available (see the warning above)")
    try:
        await _migrate(url)
        yield Database("postgres", url)
    finally:
        await _drop_postgres_database(url)


async def _migrate(url: str) -> None:
    import asyncio

    # Alembic's env runs its own event loop: give it a thread of its own.
    await asyncio.to_thread(upgrade, url)


@pytest.fixture(scope="session")
def settings(database: Database, var_dir: Path) -> Settings:
    # Background jobs run when a test runs them, at the "now" the test chooses.
    return Settings(
        database_url=database.url, var_dir=var_dir, db_pool_size=5, jobs_in_process=False
    )


@pytest.fixture(scope="session")
async def app_and_client(settings: Settings) -> AsyncIterator[tuple[object, httpx.AsyncClient]]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dho.test") as client:
            yield app, client


@pytest.fixture(scope="session")
def client(app_and_client: tuple[object, httpx.AsyncClient]) -> httpx.AsyncClient:
    return app_and_client[1]


@pytest.fixture(scope="session")
def app(app_and_client: tuple[object, httpx.AsyncClient]) -> object:
    return app_and_client[0]
