"""Twenty nurses claim one red item at the same moment, through two separate server
processes on one PostgreSQL: exactly one wins, the others are told it is taken."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.auth.dev_issuer import mint_token
from service.auth.principal import Role
from service.settings import Settings
from tests.conftest import Database
from tests.e2e.conftest import running_server
from tests.factories import blood_pressure, create_centre, enrol, queue_of, set_care_plan

pytestmark = pytest.mark.e2e


async def test_twenty_concurrent_claims_from_two_processes_have_one_winner(
    database: Database,
    var_dir: Path,
    tmp_path: Path,
    client: httpx.AsyncClient,
    app: Any,
    settings: Settings,
) -> None:
    if database.kind != "postgres":
        pytest.skip("several server processes on one database: the PostgreSQL deployment")
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "heart_failure")
    await client.post(
        "/fhir/Observation", json=blood_pressure(patient.id, 190, 100), headers=patient.headers
    )
    [item] = await queue_of(client, centre)
    nurses = [
        mint_token(settings, role=Role.nurse, subject=f"nurse-{n}", centres=[centre.id])
        for n in range(20)
    ]
    with (
        running_server(database, var_dir, tmp_path / "a.log", workers=1) as first,
        running_server(database, var_dir, tmp_path / "b.log", workers=1) as second,
    ):
        bases = [first, second]
        clients = [httpx.AsyncClient(base_url=bases[n % 2]) for n in range(20)]
        try:
            start = asyncio.Event()

            async def claim(n: int) -> httpx.Response:
                await start.wait()
                return await clients[n].post(
                    f"/api/queue/{item['id']}/claim",
                    headers={"Authorization": f"Bearer {nurses[n]}"},
                )

            tasks = [asyncio.create_task(claim(n)) for n in range(20)]
            await asyncio.sleep(0.05)
            start.set()
            answers = await asyncio.gather(*tasks)
        finally:
            await asyncio.gather(*(c.aclose() for c in clients))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [409] * 19
    winner = next(n for n, a in enumerate(answers) if a.status_code == 200)
    losers = [a.json()["detail"] for a in answers if a.status_code == 409]
    assert all(detail == f"the item is claimed by nurse-{winner}" for detail in losers)
    [claimed] = await queue_of(client, centre)
    assert (claimed["state"], claimed["claimed_by"]) == ("claimed", f"nurse-{winner}")
    history = await client.get(
        f"/api/queue/{item['id']}/history",
        headers={"Authorization": f"Bearer {centre.nurse_token}"},
    )
    assert [e["kind"] for e in history.json()] == ["created", "claimed"]
