"""On the embedded SQLite default, a connection that only reads (``reading``) must not
take the write lock: a research export reads page after page for many minutes, and a
patient's upload must not wait behind it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from service.database import create_engine, reading
from service.settings import Settings


def _write_now(path: Path) -> None:
    """A writer that gives up after half a second instead of the service's 30 s."""
    with sqlite3.connect(path, timeout=0.5, isolation_level=None) as writer:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO t VALUES (2)")
        writer.execute("COMMIT")


async def test_a_read_only_connection_does_not_hold_up_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "dho.sqlite3"
    engine = create_engine(Settings(database_url=f"sqlite+aiosqlite:///{path}"))
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("CREATE TABLE t (n INTEGER)"))
            await conn.execute(sa.text("INSERT INTO t VALUES (1)"))
        async with reading(engine) as reader:
            first = (await reader.execute(sa.text("SELECT count(*) FROM t"))).scalar_one()
            _write_now(path)  # would fail with "database is locked" under BEGIN IMMEDIATE
            # The reader's transaction still sees its own snapshot.
            again = (await reader.execute(sa.text("SELECT count(*) FROM t"))).scalar_one()
        assert (first, again) == (1, 1)
        async with engine.connect() as conn:
            assert (await conn.execute(sa.text("SELECT count(*) FROM t"))).scalar_one() == 2
    finally:
        await engine.dispose()


async def test_an_ordinary_connection_still_takes_the_write_lock_up_front(
    tmp_path: Path,
) -> None:
    path = tmp_path / "dho.sqlite3"
    engine = create_engine(Settings(database_url=f"sqlite+aiosqlite:///{path}"))
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("CREATE TABLE t (n INTEGER)"))
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT count(*) FROM t"))
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                _write_now(path)
    finally:
        await engine.dispose()
