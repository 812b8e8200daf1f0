"""`make run` loads the demo; running it twice must not duplicate anything."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import sqlalchemy as sa

from service import demo
from service.auth.dev_issuer import mint_token
from service.auth.principal import Role
from service.ingest.service import IngestContext
from service.ingest.triage_seam import NoTriage
from service.models_base import utcnow
from service.settings import Settings


async def test_demo_loads_once(client: httpx.AsyncClient, app: Any, settings: Settings) -> None:
    state = app.state.dho
    ctx = IngestContext(
        state.catalogue, NoTriage(), utcnow(), timedelta(minutes=10), ZoneInfo("Europe/Oslo")
    )
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
