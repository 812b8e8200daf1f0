"""``make bench-scale``: the service at the size of a region.

Issue 18 asks what the pages, the scans and ingest cost when the tables hold a region:
100,000 patients of 20 centres and 10 million readings. The population is seeded
set-based (``bench/population.py``, the export benchmark's SQL), some of each centre's
patients are left with an open item, and then, against ``dho serve --workers 2``:

- the missing-reading and silent-device scan, one tick as the worker runs it (the first,
  which stores what it finds, and the next, steady);
- ``GET /api/queue`` of a centre with 200 open items, a patient's 90-day chart of one
  measurement and ``GET /fhir/Observation?patient=…&_count=100``, ``GET /api/evaluation``
  of a centre for a month: sequential requests, p50 and p99 (nearest rank);
- ingest, single POSTs and Bundles of 100 over every patient (``bench/load.py``), as
  ratios of the same run's floor.

The default is 20,000 patients and 2 million readings over 90 days (seeding the issue's
full size takes most of an hour on 2 cores): ``--patients 100000 --readings 10000000``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import math
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from bench.population import CENTRES, seed
from bench.run import (
    DEFAULT_SERVER,
    REPO,
    _database,
    _dho_command,
    _free_port,
    _git,
    _load,
    _server,
    _shown,
    _step,
    _token,
    guarded,
)
from service.database import create_engine
from service.models_base import utcnow
from service.queue import jobs
from service.settings import Settings

RESULTS = REPO / "bench" / "results" / "scale-latest.json"
OPEN_ITEMS = 220  # per centre: a queue page of 200 with more behind it
REQUESTS = 60
TARGETS_MS = {"queue": 50.0, "chart": 30.0, "search": 30.0, "evaluation": 2000.0}
SCAN_TARGET_S = 2.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--readings", type=int, default=2_000_000)
    parser.add_argument("--days", type=int, default=90, help="the patients' follow-up so far")
    parser.add_argument("--seconds", type=float, default=10.0, help="per ingest figure")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--output", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return guarded(lambda: _bench(args))


def _bench(args: argparse.Namespace) -> int:
    server_url = make_url(os.environ.get("DHO_BENCH_DATABASE_URL", DEFAULT_SERVER))
    database_url = server_url.set(database=f"dho_bench_scale_{os.getpid()}")
    dho = _dho_command()
    report: dict[str, Any] = {"git": dict(zip(("commit", "dirty"), _git(), strict=True))}
    with contextlib.ExitStack() as cleanup:
        var_dir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="dho-scale-")))
        print(f"database {database_url.render_as_string(hide_password=True)}", flush=True)
        cleanup.enter_context(_database(database_url, keep=args.keep))
        env = {
            **os.environ,
            "DHO_DATABASE_URL": database_url.render_as_string(hide_password=False),
            "DHO_VAR_DIR": str(var_dir),
            "DHO_LOG_LEVEL": "WARNING",
            "DHO_ENVIRONMENT": "development",
        }
        _step([dho, "migrate"], env)
        settings = Settings(
            database_url=env["DHO_DATABASE_URL"], var_dir=var_dir, environment="development"
        )
        centres = _centres(args.patients)
        population = asyncio.run(
            seed(
                settings,
                patients=args.patients,
                days=args.days,
                readings=args.readings,
                centres=centres,
            )
        )
        report["seeding"] = {"seconds": population.seconds, "rows": population.rows}
        centre = centres[0]["id"]
        asyncio.run(_open_items(database_url, OPEN_ITEMS))
        report["scan"] = asyncio.run(_scan(settings))
        _show_scan(report["scan"])
        port = _free_port()
        server = cleanup.enter_context(_server(dho, env, port, var_dir / "server.log"))
        base = f"http://127.0.0.1:{port}"
        nurse = _token(dho, env, "nurse", "nurse-scale", [centre])
        admin = _token(dho, env, "admin", "leader-scale", [centre])
        system = _token(dho, env, "system", "gateway-scale", [c["id"] for c in centres])
        patient = _busiest(database_url, centre)
        report["reads"] = _reads(base, nurse, admin, centre, patient)
        patients = [p for group in zip(*population.by_centre.values(), strict=False) for p in group]
        plan = {
            "host": "127.0.0.1",
            "port": port,
            "token": system,
            "patients": patients,
            "run_id": secrets.token_hex(4),
            "server_pid": server.pid,
            "database": database_url.database,
            "warmup": 2.0,
            "seconds": args.seconds,
            "phases": [
                {"name": "floor", "kind": "floor", "connections": 32},
                {"name": "single", "kind": "single", "connections": 32},
                {"name": "bundle", "kind": "bundle", "connections": 4, "bundle_size": 100},
            ],
        }
        report["ingest"] = {p["name"]: p for p in _load(plan)["phases"]}
    _print(report, args)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\nresults written to {_shown(args.output)}")
    return 0


def _centres(patients: int) -> tuple[dict[str, Any], ...]:
    """One centre per 5,000 patients (at least the four of the population)."""
    count = max(len(CENTRES), math.ceil(patients / 5000))
    extra = [
        {"id": f"region-{n}", "name": f"Region {n}", "org_number": None, "municipalities": ["1804"]}
        for n in range(count - len(CENTRES))
    ]
    return (*CENTRES, *extra)


async def _open_items(url: URL, per_centre: int) -> None:
    """The newest resolved item of ``per_centre`` patients of each centre is open again:
    a queue of waiting items with their findings, as a busy morning has."""
    engine = create_engine(Settings(database_url=url.render_as_string(hide_password=False)))
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    """UPDATE triage_item SET state = 'open', claimed_by = NULL,
                        claimed_at = NULL, resolved_by = NULL, resolved_at = NULL,
                        outcome = NULL, actions = NULL, minutes = NULL
                    WHERE id IN (
                        SELECT id FROM (
                            SELECT DISTINCT ON (patient_id) id, centre_id, patient_id
                            FROM triage_item ORDER BY patient_id, opened_at DESC
                        ) AS newest
                        WHERE patient_id IN (
                            SELECT patient_id FROM (
                                SELECT patient_id, row_number() OVER (
                                    PARTITION BY centre_id ORDER BY patient_id) AS n
                                FROM (SELECT DISTINCT centre_id, patient_id FROM triage_item)
                                    AS p
                            ) AS ranked WHERE n <= :per_centre
                        )
                    )"""
                ),
                {"per_centre": per_centre},
            )
        async with engine.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            # As autovacuum would leave it: the reopened items' old index entries gone.
            await auto.execute(sa.text("VACUUM (ANALYZE) triage_item"))
    finally:
        await engine.dispose()


async def _scan(settings: Settings) -> dict[str, Any]:
    """Two ticks of the missing-reading scan, each in its transaction as the worker runs
    it: the first stores what it finds, the second finds it stored."""
    engine = create_engine(settings)
    ticks = []
    try:
        for _ in range(2):
            started = time.monotonic()
            async with engine.begin() as conn:
                outcome = await jobs.scan_missing_readings(conn, utcnow())
            ticks.append({"seconds": round(time.monotonic() - started, 2), "outcome": outcome})
    finally:
        await engine.dispose()
    return {"first": ticks[0], "steady": ticks[1], "target_seconds": SCAN_TARGET_S}


def _busiest(url: URL, centre: str) -> str:
    async def query() -> str:
        engine = create_engine(Settings(database_url=url.render_as_string(hide_password=False)))
        try:
            async with engine.connect() as conn:
                return str(
                    (
                        await conn.execute(
                            sa.text(
                                "SELECT patient_id FROM observation WHERE centre_id = :c "
                                "GROUP BY patient_id ORDER BY count(*) DESC LIMIT 1"
                            ),
                            {"c": centre},
                        )
                    ).scalar_one()
                )
        finally:
            await engine.dispose()

    return asyncio.run(query())


def _reads(base: str, nurse: str, admin: str, centre: str, patient: str) -> dict[str, Any]:
    today = dt.date.today()
    month = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    month_end = today.replace(day=1) - dt.timedelta(days=1)
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
    requests = {
        "queue": (nurse, "/api/queue", {"limit": 200}),
        "chart": (
            nurse,
            "/fhir/Observation",
            {"patient": patient, "code": "85354-9", "date": f"ge{since}", "_count": 500},
        ),
        "search": (nurse, "/fhir/Observation", {"patient": patient, "_count": 100}),
        "evaluation": (
            admin,
            "/api/evaluation",
            {"centre": centre, "from": month.isoformat(), "to": month_end.isoformat()},
        ),
    }
    measured = {}
    with httpx.Client(base_url=base, timeout=120) as client:
        for name, (token, path, params) in requests.items():
            headers = {"Authorization": f"Bearer {token}"}
            times, size = [], 0
            count = 10 if name == "evaluation" else REQUESTS
            for n in range(count + 2):  # two warm-up requests
                started = time.perf_counter()
                answer = client.get(path, params=params, headers=headers)
                elapsed = (time.perf_counter() - started) * 1000
                if answer.status_code != 200:
                    print(f"{name}: {answer.status_code} {answer.text[:300]}", file=sys.stderr)
                    break
                size = len(answer.content)
                if n >= 2:
                    times.append(elapsed)
            times.sort()
            measured[name] = {
                "requests": len(times),
                "p50_ms": _rank(times, 0.5),
                "p99_ms": _rank(times, 0.99),
                "bytes": size,
                "items": _items(name, answer),
                "target_ms": TARGETS_MS[name],
            }
    return measured


def _items(name: str, answer: httpx.Response) -> int | None:
    with contextlib.suppress(ValueError, KeyError, TypeError):
        body = answer.json()
        if name == "queue":
            return len(body["items"])
        if name in ("chart", "search"):
            return len(body.get("entry", []))
    return None


def _rank(ordered: list[float], q: float) -> float:
    if not ordered:
        return math.nan
    return round(ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))], 1)


def _show_scan(scan: dict[str, Any]) -> None:
    print(
        f"missing-reading scan: first tick {scan['first']['seconds']} s "
        f"({scan['first']['outcome']}), steady {scan['steady']['seconds']} s",
        flush=True,
    )


def _print(report: dict[str, Any], args: argparse.Namespace) -> None:
    seeding, rows = report["seeding"]["seconds"], report["seeding"]["rows"]
    print(
        f"\nDHO at the size of a region: commit {(report['git']['commit'] or '?')[:10]}"
        f"{' (uncommitted changes)' if report['git']['dirty'] else ''}; "
        f"{rows['patient']:,} patients, {rows['observation']:,} readings over {args.days} days, "
        f"{rows['finding']:,} findings, {rows['triage_item']:,} items"
    )
    print(
        f"seeding {seeding['total']:.0f} s (patients {seeding['patients']:.0f} s, readings "
        f"{seeding['readings']:.0f} s, indexes {seeding['indexes']:.0f} s, items "
        f"{seeding['items_and_resource_use']:.0f} s, VACUUM ANALYZE "
        f"{seeding['vacuum_analyze']:.0f} s)\n"
    )
    scan = report["scan"]
    print(
        f"{'missing-reading and silent-device scan':<44} first tick "
        f"{scan['first']['seconds']:>6} s, steady {scan['steady']['seconds']:>6} s   "
        f"target ≤ {SCAN_TARGET_S:g} s per tick"
    )
    for name, figure in report["reads"].items():
        print(
            f"{'GET ' + name:<44} p50 {figure['p50_ms']:>7} ms, p99 {figure['p99_ms']:>7} ms "
            f"({figure['requests']} requests, {figure['bytes']:,} bytes, "
            f"{figure['items']} rows)   target p99 ≤ {figure['target_ms']:g} ms"
        )
    ingest = report["ingest"]
    floor = ingest["floor"]["requests_per_second"] or math.nan
    single, bundle = ingest["single"], ingest["bundle"]
    print(
        f"{'ingest: floor':<44} {floor:,.0f} req/s\n"
        f"{'ingest: single POST':<44} {single['requests_per_second']:,.0f} req/s "
        f"({single['requests_per_second'] / floor:.3f} of the floor), p99 "
        f"{single['latency_ms']['p99']:.1f} ms\n"
        f"{'ingest: Bundle of 100':<44} {bundle['observations_per_second']:,.0f} obs/s "
        f"({bundle['observations_per_second'] / floor:.3f} of the floor), p99 "
        f"{bundle['latency_ms']['p99']:.1f} ms\n"
        "(compare the ratios with make bench's, on a nearly empty database)"
    )
    failed = sum(p["non_2xx_total"] + p["network_errors"] for p in ingest.values())
    if failed:
        print(f"ingest: {failed} failed requests", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
