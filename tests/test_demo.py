"""`make run` loads the demo; running it twice must not duplicate anything."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from service import demo
from service.auth.dev_issuer import mint_token
from service.auth.principal import DEFAULT_SCOPES, Role
from service.ingest.context import context_for
from service.queue.triage import Triage
from service.settings import Settings


async def test_demo_loads_once(client: httpx.AsyncClient, app: Any, settings: Settings) -> None:
    state = app.state.dho
    ctx = context_for(settings, state.catalogue, Triage())
    first = await demo.load(state.engine, ctx, state.vault)
    second = await demo.load(state.engine, ctx, state.vault)
    await _a_month_of_the_centres_work(client, settings, first, ctx.now.date())
    assert first["patients_created"] == 20
    assert first["readings_created"] >= 20 * demo.DAYS
    assert second == {"patients_created": 0, "readings_created": 0, "items_resolved": 0}
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


async def _a_month_of_the_centres_work(
    client: httpx.AsyncClient, settings: Settings, loaded: dict[str, int], today: date
) -> None:
    """A newcomer's first evaluation is not empty: items worked and resolved over the
    month, nurse minutes, contacts outside the service before and after enrolment, the
    patients' first experience answers; and the last days' items still wait."""
    assert loaded["items_resolved"] >= 20
    leader = mint_token(
        settings,
        role=Role.nurse,
        subject="leader",
        centres=["salten"],
        scopes=[*DEFAULT_SCOPES[Role.nurse], "user/MeasureReport.rs"],
    )
    headers = {"Authorization": f"Bearer {leader}"}
    period = {"centre": "salten", "from": str(today - timedelta(days=30)), "to": str(today)}
    figures = (await client.get("/api/evaluation", params=period, headers=headers)).json()
    overall = figures["overall"]
    assert overall["items"]["by_severity"]["red"]["count"] >= 5
    assert overall["nurse_time"]["minutes"] > 300
    assert overall["adherence"]["ratio"]["value"] > 0.5
    assert overall["before_after"]["measures"]["admissions"]["before"]["count"] >= 5
    queue = (await client.get("/api/queue", headers=headers)).json()["items"]
    assert any(item["severity"] == "red" for item in queue)  # Ingrid's 186, still open
    since_enrolment = {**period, "from": str(today - timedelta(days=40))}
    experience = await client.get(
        "/api/evaluation/experience", params=since_enrolment, headers=headers
    )
    security = experience.json()["questions"][0]
    assert security["stages"][0]["respondents"] == 10
