"""The database goes away and comes back: meanwhile every request is answered 503 with
Retry-After (FHIR routes an OperationOutcome, others the error JSON), never 500; after,
the same process serves again by itself, and what was refused was not stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.app import create_app
from service.settings import Settings
from tests.conftest import _migrate
from tests.factories import auth, create_centre, enrol, observation, readings_of, set_care_plan
from tests.faults.cluster import Cluster, server_bin

pytestmark = pytest.mark.postgres


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    bin_dir = server_bin()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql")
    made = Cluster(bin_dir)
    try:
        made.start()
        yield made
    finally:
        made.remove()


async def test_the_database_away_is_a_503_and_its_return_needs_no_restart(
    cluster: Cluster, tmp_path: Path
) -> None:
    await _migrate(cluster.url)
    settings = Settings(
        database_url=cluster.url, var_dir=tmp_path, db_pool_size=3, jobs_in_process=False
    )
    app: Any = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dho.test") as client:
            centre = await create_centre(app, settings)
            patient = await enrol(client, settings, centre)
            await set_care_plan(client, patient)
            stored = await client.post(
                "/fhir/Observation", json=observation(patient.id, value=71), headers=patient.headers
            )
            assert stored.status_code == 201, stored.text

            cluster.stop()
            for value in (72, 73):  # the pooled connection's failure, then a refused connect
                away = await client.post(
                    "/fhir/Observation",
                    json=observation(patient.id, value=value),
                    headers=patient.headers,
                )
                assert away.status_code == 503, away.text
                assert away.headers["Retry-After"] == "2"
                assert away.json()["resourceType"] == "OperationOutcome"
                assert away.json()["issue"][0]["code"] == "transient"
            queue = await client.get("/api/queue", headers=auth(centre.nurse_token))
            assert queue.status_code == 503
            assert queue.headers["Retry-After"] == "2"
            assert queue.json()["error"] == "unavailable"

            cluster.start()
            back = await client.post(
                "/fhir/Observation", json=observation(patient.id, value=74), headers=patient.headers
            )
            assert back.status_code == 201, back.text
            values = sorted(r["valueQuantity"]["value"] for r in await readings_of(client, patient))
            assert values == [71, 74]
