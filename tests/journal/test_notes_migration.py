"""Migration 0022 on both databases: a receiver configured before ``kinds`` existed
journals every kind afterwards, as a new one does by default."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from service.centres import repository as centres
from service.database import create_engine
from service.db_types import UTCDateTime
from service.journal import repository
from service.journal.models import JournalKind, journals
from service.migrate import upgrade
from service.settings import Settings
from tests.conftest import _create_postgres_database, _drop_postgres_database

# journal_config as revision 0019 made it (the model has more columns now).
_CONFIG_0019 = sa.table(
    "journal_config",
    sa.column("centre_id"),
    sa.column("enabled"),
    sa.column("items"),
    sa.column("receiver_url"),
    sa.column("timeout_seconds"),
    sa.column("updated_at", UTCDateTime()),
)


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database of its own: the shared one is already at the head."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'kinds.sqlite3'}"
        return
    url = await _create_postgres_database()
    if url is None:
        pytest.skip("PostgreSQL is not available")
    try:
        yield url
    finally:
        await _drop_postgres_database(url)


async def test_a_receiver_configured_before_kinds_existed_journals_every_kind(
    empty_database: str,
) -> None:
    await asyncio.to_thread(upgrade, empty_database, "0021")
    engine = create_engine(Settings(database_url=empty_database))
    try:
        async with engine.begin() as conn:
            await centres.upsert(conn, {"id": "c-old", "name": "Old", "municipalities": ["1804"]})
            await conn.execute(
                sa.insert(_CONFIG_0019).values(
                    centre_id="c-old",
                    enabled=True,
                    items="red",
                    receiver_url="http://epj.example/fhir/Bundle",
                    timeout_seconds=10.0,
                    updated_at=datetime.now(UTC),
                )
            )
        await asyncio.to_thread(upgrade, empty_database, "head")
        async with engine.connect() as conn:
            config = await repository.config_of(conn, "c-old")
    finally:
        await engine.dispose()
    assert config is not None
    assert config.kinds == [kind.value for kind in JournalKind]
    assert config.items == "red"  # the filter of items is kept as it was
    assert all(journals(config, kind) for kind in JournalKind)
