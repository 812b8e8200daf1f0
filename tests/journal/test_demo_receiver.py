"""The issue's "done when": every item the demo resolves reaches the test receiver, once.

The demo's centres journal to the receiver before ``dho demo`` runs (the demo
upserts its centres, so their receivers stay as set); ``dho worker --once`` then sends
the outbox until it is drained, and a second ``--once`` sends nothing again. On a
database of its own: the demo's centres are fixed ids the session's other tests use.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from service import demo
from service.auth.dev_issuer import mint_token
from service.auth.principal import Role
from service.centres import repository as centres
from service.journal import repository as journal
from service.settings import Settings
from tests.conftest import Database
from tests.factories import auth
from tests.journal.harness import Receiver
from tests.journal.own_database import dho, own_app, own_database

DEMO_CENTRES = [str(c["id"]) for c in demo.CENTRES]


async def test_every_item_the_demo_resolves_reaches_the_receiver_once(
    database: Database, tmp_path: Path, fresh_receiver: Receiver
) -> None:
    async with own_database(database, tmp_path) as url:
        settings = Settings(
            database_url=url, var_dir=tmp_path / "var", db_pool_size=5, jobs_in_process=False
        )
        async with own_app(settings) as (app, client):
            engine = app.state.dho.engine
            async with engine.begin() as conn:
                for centre in demo.CENTRES:
                    await centres.upsert(conn, centre)
            for centre_id in DEMO_CENTRES:
                admin = mint_token(settings, role=Role.admin, subject="ops", centres=[centre_id])
                body = {"enabled": True, "receiver_url": fresh_receiver.url, "timeout_seconds": 5}
                put = await client.put(
                    f"/api/centres/{centre_id}/journal-config", json=body, headers=auth(admin)
                )
                assert put.status_code == 200, put.text

            before = fresh_receiver.stats()
            await dho(settings, "demo")
            for _ in range(5):  # the receiver accepts: one round sends all, more is spare
                await dho(settings, "worker", "--once")
                async with engine.connect() as conn:
                    left = await journal.counts(conn)
                if not set(left) - {"sent"}:
                    break
            stored_once = fresh_receiver.received()
            drained = fresh_receiver.stats()
            await dho(settings, "worker", "--once")

            items = sa.table(
                "triage_item", sa.column("id"), sa.column("centre_id"), sa.column("resolved_at")
            )
            message = journal.message
            async with engine.connect() as conn:
                resolved = set(
                    (
                        await conn.execute(
                            sa.select(items.c.id).where(
                                items.c.centre_id.in_(DEMO_CENTRES), items.c.resolved_at.isnot(None)
                            )
                        )
                    ).scalars()
                )
                messages = (await conn.execute(sa.select(message))).all()

    assert len(resolved) >= 20  # the demo's month of work (tests/test_demo.py)
    assert {m.state for m in messages} == {"sent"}
    journalled = {m.item_id: m.bundle_identifier for m in messages if m.item_id is not None}
    assert set(journalled) == resolved
    assert len(journalled) == len([m for m in messages if m.item_id is not None])
    # Every message of the outbox (a resolved item's, and any other kind) arrived, each
    # in one POST: the record (which keeps one per identifier) saw no resend either.
    ours = {m.bundle_identifier for m in messages}
    arrived = [r["identifier"] for r in stored_once if r["identifier"] in ours]
    assert sorted(arrived) == sorted(ours)
    assert drained["posts"] - before["posts"] == len(ours)
    assert drained["duplicates"] == before["duplicates"]
    # A second run finds nothing to send, and the record holds what it held.
    assert fresh_receiver.stats() == drained
    assert fresh_receiver.received() == stored_once
    print(f"\ndemo: {len(resolved)} items resolved, {len(arrived)} documents at the receiver")
