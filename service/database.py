"""Engines and connections: SQLite (embedded default) and PostgreSQL behind one interface.

Engines are built in the application's lifespan, never at import time, so tests and
the CLI get a fresh one for whichever database they point at. Request handlers get a
connection whose transaction commits once, when the handler succeeded: storing a
reading, its findings and its audit record then succeed or fail together.

Stored JSON (reading components, triage evidence, export rows) is decoded with orjson:
several times faster than the standard library, on the ingest and export hot paths.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from service.settings import Settings


@functools.cache
def insert_once(table: Any, dialect: str, keys: tuple[str, ...]) -> Any:
    """``INSERT ... ON CONFLICT (keys) DO NOTHING RETURNING id``: a resend is stored once,
    decided by the database rather than by a check before the insert (two resends may
    race). Built once per table and dialect: constructing it per request cost as much
    as running it."""
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        dialect_insert(table)
        .on_conflict_do_nothing(index_elements=list(keys))
        .returning(table.c.id)
    )


def create_engine(settings: Settings) -> AsyncEngine:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(settings)
    return _postgres_engine(url, settings)


def create_read_engine(settings: Settings, primary: AsyncEngine) -> AsyncEngine:
    """The engine read-heavy work reads from (research exports, evaluation, reports):
    ``DHO_READ_DATABASE_URL``, a streaming replica, when set; else the primary's own.
    A replica lags its primary by a moment: what reads it must not need the write it
    just made (those reads stay on the primary)."""
    if not settings.read_database_url:
        return primary
    return _postgres_engine(make_url(settings.read_database_url), settings)


async def dispose(*engines: AsyncEngine) -> None:
    for engine in dict.fromkeys(engines):  # the read engine may be the primary itself
        await engine.dispose()


def _postgres_engine(url: URL, settings: Settings) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        # No pre-ping: it costs a round trip on every request of the ingest hot path.
        # Connections are recycled instead, and a dropped one fails one request.
        pool_recycle=1800,
        connect_args={"server_settings": {"application_name": "dho", "timezone": "UTC"}},
        json_deserializer=orjson.loads,
    )


def _sqlite_engine(settings: Settings) -> AsyncEngine:
    url = make_url(settings.database_url)
    if url.database and url.database != ":memory:":
        from pathlib import Path

        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 30}, json_deserializer=orjson.loads)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front: a deferred transaction that reads
        # and then writes fails at once with SQLITE_BUSY when another writer won. A
        # connection that only reads (``reading``) begins deferred: in WAL mode it
        # then never waits for, nor holds up, a writer.
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


READ_ONLY = "dho_read_only"


@asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for reads only. On SQLite its transaction does not take the write
    lock, so a long export's page reads do not make a patient's upload wait; on
    PostgreSQL it is an ordinary connection."""
    async with engine.connect() as conn:
        await conn.execution_options(**{READ_ONLY: True})
        yield conn


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection in a transaction that commits on success and rolls back on error."""
    async with engine.begin() as conn:
        yield conn
