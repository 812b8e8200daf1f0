"""Alembic environment: one history for SQLite and PostgreSQL, run on the async engine."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import event
from sqlalchemy.engine import Connection

from service import db_roles
from service.database import create_engine
from service.models import metadata
from service.settings import Settings

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "postgresql" and _roles_exist_at(connection):
            # Tables a later migration added get the service's grants, whoever ran it.
            settings = Settings()
            connection.exec_driver_sql(
                db_roles.apply(settings.db_owner_role, settings.db_service_role)
            )
        if connection.dialect.name == "sqlite":
            # Checked once, at the end, since enforcement is off while migrating.
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").first()
            if broken is not None:
                raise RuntimeError(f"the migration broke a foreign key of table {broken[0]}")


def _roles_exist_at(connection: Connection) -> bool:
    """Whether the database now stands at or after the revision that made the roles."""
    current = context.get_context().get_current_revision()
    if current is None:
        return False
    walked = context.script.walk_revisions(base="base", head=current)
    return any(script.revision == db_roles.ROLES_REVISION for script in walked)


def _foreign_keys_off(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=OFF")
    cursor.close()


async def _run_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    settings = Settings(database_url=url) if url else Settings()
    engine = create_engine(settings)
    if engine.dialect.name == "sqlite":
        # SQLite alters a table by copying it and dropping the original (batch mode);
        # with foreign keys enforced, dropping a table other rows reference fails. Its
        # own procedure turns enforcement off, which only works outside a transaction:
        # here, as each connection opens, after the engine's own pragmas.
        event.listen(engine.sync_engine, "connect", _foreign_keys_off)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run)
            await conn.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run `dho migrate`")
asyncio.run(_run_online())
