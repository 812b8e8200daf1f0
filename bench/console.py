"""``make bench``, part 2: the nurse console's queue page with 200 open items on
PostgreSQL, in server time (the application through ASGI, no network), against the
issue's target of 300 ms.

A fresh database is created and dropped, also on failure. The 200 patients are made
through the real API (enrolment, care plan, readings), so their items, findings and
trends are what triage made of them: a third red, the rest yellow.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.scratch import scratch_database
from service.app import create_app
from service.settings import Settings
from tests.console.helpers import browser, nurse_session
from tests.factories import blood_pressure, create_centre, enrol, set_care_plan

DEFAULT_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432"
TARGET_MS = 300.0


async def _with_database(server: str, items: int, rounds: int) -> None:
    async with scratch_database(server, "dho_bench_console") as url:
        with tempfile.TemporaryDirectory() as var:
            await _measure(url, Path(var), items, rounds)


async def _measure(url: str, var: Path, items: int, rounds: int) -> None:
    settings = Settings(database_url=url, var_dir=var, jobs_in_process=False, log_level="WARNING")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dho.test") as client:
            centre = await create_centre(app, settings)
            started = time.perf_counter()
            for n in range(items):
                patient = await enrol(client, settings, centre)
                await set_care_plan(client, patient, "hypertension")
                values = (150, 152, 149, 190) if n % 3 == 0 else (150, 165, 166, 167)
                for systolic in values:
                    await client.post(
                        "/fhir/Observation",
                        json=blood_pressure(patient.id, systolic, 90),
                        headers=patient.headers,
                    )
            print(
                f"setup: {items} patients with open items in {time.perf_counter() - started:.0f} s"
            )
            async with browser(app, nurse_session(settings, [centre.id])) as page_client:
                first = await page_client.get("/console")
                rows = first.text.count('<tr id="item-')
                times = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    answer = await page_client.get("/console")
                    times.append((time.perf_counter() - started) * 1000)
                    assert answer.status_code == 200
    times.sort()
    median = statistics.median(times)
    p90 = times[max(0, round(0.9 * len(times)) - 1)]
    verdict = "within" if median < TARGET_MS else "OVER"
    print(
        f"console queue page, {rows} rows: median {median:.0f} ms, p90 {p90:.0f} ms "
        f"over {rounds} requests ({verdict} the {TARGET_MS:.0f} ms target)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.console", description=__doc__)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    server = os.environ.get("DHO_BENCH_DATABASE_URL", DEFAULT_SERVER)
    asyncio.run(_with_database(server, args.items, args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
