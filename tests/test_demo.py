"""`make run` loads the demo; running it twice must not duplicate anything."""

from __future__ import annotations

from typing import Any

import httpx
import sqlalchemy as sa

from service import demo
from service.auth.dev_issuer import mint_token
from service.auth.principal import Role
from service.ingest.context import context_for
from service.ingest.triage_seam import NoTriage
from service.settings import Settings


async def test_demo_loads_once(client: httpx.AsyncClient, app: Any, settings: Settings) -> None:
    state = app.state.dho
    ctx = context_for(settings, state.catalogue, NoTriage())
    first = await demo.load(state.engine, ctx, state.vault)
    second = await demo.load(state.engine, ctx, state.vault)
    assert first["patients_created"] == 20
    assert first["readings_created"] >= 20 * demo.DAYS
    assert second == {"patients_created": 0, "readings_created": 0}
    async with state.engine.connect() as conn:
        count = (
            await conn.execute(
                sa.text(
                    "SELECT count(*) FROM observation WHERE centre_id IN ('salten', 'trondheim')"
                )
            )
        ).scalar_one()
    assert count == first["readings_created"]
    nurse = mint_token(settings, role=Role.nurse, subject="n", centres=["salten"])
    patients = await client.get(
        "/fhir/Patient", params={"_count": 100}, headers={"Authorization": f"Bearer {nurse}"}
    )
    assert len(patients.json()["entry"]) == 10
