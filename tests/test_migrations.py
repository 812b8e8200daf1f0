"""One Alembic history for both databases: it builds the schema the models describe,
and it can be walked down and up again."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from service.database import create_engine
from service.migrate import downgrade, upgrade
from service.models import metadata
from service.settings import Settings
from tests.conftest import Database


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_migrated_schema_matches_the_models(database: Database) -> None:
    engine = create_engine(Settings(database_url=database.url))
    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(_diff)
    finally:
        await engine.dispose()
    assert differences == []


async def test_history_walks_down_and_up(tmp_path: Any) -> None:
    # On a database of its own: the shared one holds the other tests' rows.
    url = f"sqlite+aiosqlite:///{tmp_path / 'walk.sqlite3'}"
    await asyncio.to_thread(upgrade, url)
    await asyncio.to_thread(downgrade, url, "base")
    await asyncio.to_thread(upgrade, url)


def test_every_table_of_a_patients_data_names_the_centre_too() -> None:
    """The house rule that lets a query scope by centre without a join, and lets a
    region split its data by centre: a table with a patient_id carries the centre_id."""
    missing = [
        table.name
        for table in metadata.sorted_tables
        if "patient_id" in table.c and "centre_id" not in table.c
    ]
    assert missing == []
    assert "centre_id" in metadata.tables["patient"].c
