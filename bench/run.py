"""``make bench``: the ingest benchmark, from an empty database to a table of figures.

Everything the figures depend on is made fresh for the run (a PostgreSQL database, a
key directory, a server with two workers) and removed afterwards, also on Ctrl-C: a
benchmark that leaves databases behind or measures yesterday's rows is not repeatable.
Every figure is printed beside its ratio to the floor (a static answer measured in the
same run), because absolute rates on a shared 2-core machine vary from run to run far
more than the ratios do.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bench.load import machine_jiffies
from service.settings import Settings

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "latest.json"
DEFAULT_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432"
WORKERS = 2

# The targets of the ingest issue and of issue 18 (speed at the size of a region).
SINGLE_TARGET_RPS = 1500.0
SINGLE_TARGET_P99_MS = 60.0
BUNDLE_TARGET_OBS = 12000.0
FLOOD_TARGET_P99_MS = 150.0
POSTGRES_TARGET_MS = 0.4
# Busier than this before the load starts, and the machine is shared with something else.
BUSY_WARNING_CORES = 0.25


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per figure")
    parser.add_argument("--warmup", type=float, default=2.0, help="discarded seconds before each")
    parser.add_argument("--quick", action="store_true", help="3 s per figure, 1 s warm-up")
    parser.add_argument("--connections", type=int, default=32, help="for floor and single")
    parser.add_argument("--bundle-connections", type=int, default=4)
    parser.add_argument("--bundle-size", type=int, default=100)
    parser.add_argument(
        "--patients", type=int, default=1200, help="enrolled patients of the headline figures"
    )
    parser.add_argument("--history-days", type=int, default=14, help="their follow-up so far")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.warmup = 3.0, 1.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return guarded(lambda: _bench(args))


def guarded(bench: Callable[[], int]) -> int:
    """Run a benchmark so that Ctrl-C and SIGTERM clean up and answer in words."""
    # `make` and CI stop a job with SIGTERM: clean up as for Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return bench()
    except KeyboardInterrupt:
        print("\ninterrupted: everything the run made has been removed", file=sys.stderr)
        return 130
    except BenchError as error:
        print(f"\nbench failed: {error}", file=sys.stderr)
        return 2


class BenchError(Exception):
    pass


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _bench(args: argparse.Namespace) -> int:
    server_url = make_url(os.environ.get("DHO_BENCH_DATABASE_URL", DEFAULT_SERVER))
    database_url = server_url.set(database=f"dho_bench_{os.getpid()}")
    run_id = secrets.token_hex(4)
    dho = _dho_command()
    with contextlib.ExitStack() as cleanup:
        var_dir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="dho-bench-")))
        print(f"database {database_url.render_as_string(hide_password=True)}", flush=True)
        cleanup.enter_context(_database(database_url))
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
        from bench.population import seed as seed_population  # it imports this module

        population = asyncio.run(
            seed_population(settings, patients=args.patients, days=args.history_days)
        )
        # After the population: its set-based SQL gathers every finding into items.
        _step([dho, "demo"], env)
        counts_dir = var_dir / "statements"
        env["DHO_STATEMENT_COUNTS_DIR"] = str(counts_dir)
        port = _free_port()
        server = cleanup.enter_context(_server(dho, env, port, var_dir / "server.log"))
        base = f"http://127.0.0.1:{port}"
        centres = ["salten", *population.by_centre]
        system_token = _token(dho, env, "system", "bench-gateway", centres)
        flooded = _patients(base, _token(dho, env, "nurse", "bench", ["salten"]))
        # Interleaved by centre: readings arrive for many patients of every centre at once.
        patients = [p for group in zip(*population.by_centre.values(), strict=False) for p in group]
        print(
            f"server on {base} with {WORKERS} workers; {len(patients):,} patients of "
            f"{len(population.by_centre)} centres with {args.history_days} days of history; "
            f"the flood on {len(flooded)} patients of salten",
            flush=True,
        )
        rows_before = asyncio.run(_count(database_url, None))
        idle = _busy_cores(1.0)
        if idle > BUSY_WARNING_CORES:
            print(
                f"warning: {idle:.2f} cores were busy before the load started (other "
                "processes on this machine): the figures will be low",
                flush=True,
            )
        plan = {
            "host": "127.0.0.1",
            "port": port,
            "token": system_token,
            "patients": patients,
            "run_id": run_id,
            "server_pid": server.pid,
            "database": database_url.database,
            "counts_dir": str(counts_dir),
            "warmup": args.warmup,
            "seconds": args.seconds,
            "phases": [
                {"name": "floor", "kind": "floor", "connections": args.connections},
                {"name": "single", "kind": "single", "connections": args.connections},
                {
                    "name": "bundle",
                    "kind": "bundle",
                    "connections": args.bundle_connections,
                    "bundle_size": args.bundle_size,
                },
                {
                    "name": "flood",
                    "kind": "single",
                    "connections": args.connections,
                    "patients": flooded,
                },
            ],
        }
        measured = _load(plan)
        # Stopped before counting, so that every answered request has been committed.
        _stop(server)
        rows_after = asyncio.run(_count(database_url, None))
        bench_rows = asyncio.run(_count(database_url, f"urn:dho:bench:{run_id}"))
        postgres = asyncio.run(_postgres_version(database_url))

    phases = {p["name"]: p for p in measured["phases"]}
    report = _report(args, phases, postgres, measured["event_loop"])
    report["machine"]["busy_cores_before_load"] = round(idle, 2)
    report["machine"]["server_processes"] = measured["server_processes"]
    report["verification"] = _verify(phases, rows_before, rows_after, bench_rows)
    _print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nresults written to {_shown(args.output)}")
    return 0 if report["verification"]["ok"] else 1


# --- what the run makes, and removes ----------------------------------------------------


@contextlib.contextmanager
def _database(url: URL, *, keep: bool = False) -> Iterator[None]:
    """A fresh database, dropped afterwards; with ``keep``, left in place when the run
    succeeds (to profile against it), and still dropped when it fails."""
    try:
        # A database of this name is a leftover of an earlier run with the same pid.
        asyncio.run(_admin(url, f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        asyncio.run(_admin(url, f'CREATE DATABASE "{url.database}"'))
    except (OSError, sa.exc.DBAPIError, sa.exc.InterfaceError) as error:
        where = url.render_as_string(hide_password=True)
        raise BenchError(f"cannot create {where}: {error}") from None
    try:
        yield
    except BaseException:
        keep = False
        raise
    finally:
        if keep:
            print(f"kept database {url.database}", flush=True)
        else:
            with _uninterrupted():
                asyncio.run(_admin(url, f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
                print(f"dropped database {url.database}", flush=True)


async def _admin(url: URL, statement: str) -> None:
    engine = create_async_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text(statement))
    finally:
        await engine.dispose()


@contextlib.contextmanager
def _server(
    dho: str, env: dict[str, str], port: int, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    # A session of its own: Ctrl-C reaches only this script, which then stops the
    # server in order instead of racing its workers' own shutdown.
    with log.open("wb") as output:
        server = subprocess.Popen(
            [dho, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS)],
            env=env,
            cwd=REPO,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_healthy(server, f"http://127.0.0.1:{port}/health", log)
        yield server
    finally:
        with _uninterrupted():
            _stop(server)


def _wait_healthy(server: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise BenchError(f"the server exited with {server.returncode}:\n{_tail(log)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise BenchError(f"the server did not answer {url} within 60 s:\n{_tail(log)}")


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        # The group is the server's own session: its workers, nothing else.
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


@contextlib.contextmanager
def _uninterrupted() -> Iterator[None]:
    """Cleanup that a second Ctrl-C must not cut in half (it would leave a database)."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _tail(log: Path, lines: int = 40) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    return "(no server log)"


def _dho_command() -> str:
    beside = Path(sys.executable).parent / "dho"
    found = str(beside) if beside.exists() else shutil.which("dho")
    if found is None:
        raise BenchError("the dho command is not installed (make install)")
    return found


def _step(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"{' '.join(command[1:])} failed:\n{done.stdout}{done.stderr}")
    print(done.stdout.strip(), flush=True)


def _token(dho: str, env: dict[str, str], role: str, subject: str, centres: list[str]) -> str:
    done = subprocess.run(
        [
            dho,
            "token",
            "--role",
            role,
            "--subject",
            subject,
            *(a for c in centres for a in ("--centre", c)),
        ],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"dho token failed: {done.stderr}")
    return done.stdout.strip()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _patients(base: str, nurse_token: str) -> list[str]:
    answer = httpx.get(
        f"{base}/fhir/Patient",
        params={"_count": 50},
        headers={"Authorization": f"Bearer {nurse_token}"},
        timeout=10,
    )
    if answer.status_code != 200:
        raise BenchError(f"GET /fhir/Patient answered {answer.status_code}: {answer.text[:500]}")
    patients = [
        entry["resource"]["id"]
        for entry in answer.json().get("entry", [])
        if entry["resource"].get("active", True)
    ]
    if not patients:
        raise BenchError("the demo enrolled no active patient in salten")
    return patients


def _load(plan: dict[str, Any]) -> dict[str, Any]:
    """The load generator in a process of its own (see ``bench/load.py``)."""
    per_phase = plan["warmup"] + plan["seconds"]
    client = subprocess.Popen(
        [sys.executable, "-m", "bench.load"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, _ = client.communicate(
            json.dumps(plan).encode(), timeout=len(plan["phases"]) * (per_phase + 60) + 60
        )
    except BaseException:
        client.kill()
        client.wait()
        raise
    if client.returncode != 0:
        raise BenchError(f"the load generator exited with {client.returncode}")
    result: dict[str, Any] = json.loads(out)
    return result


async def _count(url: URL, system: str | None) -> int:
    query = "SELECT count(*) FROM observation"
    params = {}
    if system is not None:
        query += " WHERE identifier_system = :system"
        params["system"] = system
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(sa.text(query), params)).scalar_one())
    finally:
        await engine.dispose()


def _busy_cores(seconds: float) -> float:
    """Cores in use while the server idles: anything else on the machine is in the figures."""
    busy0, total0 = machine_jiffies()
    time.sleep(seconds)
    busy1, total1 = machine_jiffies()
    return (busy1 - busy0) / (total1 - total0) * (os.cpu_count() or 1) if total1 > total0 else 0.0


async def _postgres_version(url: URL) -> str:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return str((await conn.execute(sa.text("SHOW server_version"))).scalar_one())
    finally:
        await engine.dispose()


# --- the figures ------------------------------------------------------------------------


def _report(
    args: argparse.Namespace, phases: dict[str, Any], postgres: str, event_loop: str
) -> dict[str, Any]:
    floor, single, bundle = phases["floor"], phases["single"], phases["bundle"]
    flood = phases["flood"]
    floor_rps = floor["requests_per_second"]

    def ratio(value: float) -> float | None:
        return round(value / floor_rps, 3) if floor_rps else None

    single_meets = (
        single["requests_per_second"] >= SINGLE_TARGET_RPS
        and single["latency_ms"]["p99"] < SINGLE_TARGET_P99_MS
    )
    bundle_meets = bundle["observations_per_second"] >= BUNDLE_TARGET_OBS
    commit, dirty = _git()
    return {
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git": {"commit": commit, "dirty": dirty},
        "machine": _machine(postgres, event_loop),
        "settings": {
            "seconds": args.seconds,
            "warmup_seconds": args.warmup,
            "server_workers": WORKERS,
            "connections": args.connections,
            "bundle_connections": args.bundle_connections,
            "bundle_size": args.bundle_size,
        },
        "phases": phases,
        "ratios_to_floor": {
            "single_requests": ratio(single["requests_per_second"]),
            "bundle_observations": ratio(bundle["observations_per_second"]),
            "flood_requests": ratio(flood["requests_per_second"]),
        },
        "per_reading": {name: _per_reading(phases[name]) for name in ("single", "bundle", "flood")},
        "targets": {
            "single": {
                "requests_per_second": SINGLE_TARGET_RPS,
                "p99_ms_below": SINGLE_TARGET_P99_MS,
                "verdict": "meets" if single_meets else "below",
            },
            "bundle": {
                "observations_per_second": BUNDLE_TARGET_OBS,
                "verdict": "meets" if bundle_meets else "below",
            },
            "flood": {
                "p99_ms_below": FLOOD_TARGET_P99_MS,
                "verdict": "meets" if flood["latency_ms"]["p99"] < FLOOD_TARGET_P99_MS else "below",
            },
        },
    }


def _per_reading(phase: dict[str, Any]) -> dict[str, Any]:
    """What one stored reading cost over the measured window: CPU of the server and of
    the database's backends, and the statements (and transactions) the server sent."""
    readings = phase["observations"]
    cpu = phase["cpu"]
    if not readings:
        return {}
    statements = cpu.get("statements")
    return {
        "readings": readings,
        "server_cpu_ms": round(cpu["server_seconds"] * 1000 / readings, 3),
        "postgres_cpu_ms": round(cpu["postgres_seconds"] * 1000 / readings, 3),
        "statements": round(statements[0] / readings, 2) if statements else None,
        "transactions": round(statements[2] / readings, 3) if statements else None,
    }


def _verify(
    phases: dict[str, Any], rows_before: int, rows_after: int, bench_rows: int
) -> dict[str, Any]:
    """Every reading answered as stored is in the table, and nothing else was added."""
    stored = sum(p["stored_total"] for p in phases.values())
    failures = sum(p["non_2xx_total"] + p["network_errors"] for p in phases.values())
    repeats = sum(p["repeats_total"] for p in phases.values())
    added = rows_after - rows_before
    return {
        "rows_before": rows_before,
        "rows_after": rows_after,
        "rows_added": added,
        "rows_with_bench_identifier": bench_rows,
        "answered_201": stored,
        "answered_repeat": repeats,
        "failed_requests": failures,
        "ok": added == stored == bench_rows and failures == 0 and repeats == 0,
    }


def _git() -> tuple[str | None, bool | None]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None, None
    return commit, bool(status.strip())


def _machine(postgres: str, event_loop: str) -> dict[str, Any]:
    cpu_model = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    memory_gib = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        memory_gib = round(int(kib) / 1024**2, 1)
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": memory_gib,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "postgresql": postgres,
        "client_event_loop": event_loop,
    }


def _print(report: dict[str, Any]) -> None:
    phases, targets = report["phases"], report["targets"]
    floor, single, bundle = phases["floor"], phases["single"], phases["bundle"]
    flood = phases["flood"]
    machine, settings = report["machine"], report["settings"]
    commit = (report["git"]["commit"] or "unknown")[:10]
    dirty = " (uncommitted changes)" if report["git"]["dirty"] else ""
    print(
        f"\nDHO ingest benchmark: commit {commit}{dirty}, {machine['nproc']} CPUs, "
        f"PostgreSQL {machine['postgresql']}, {settings['server_workers']} server workers, "
        f"{settings['seconds']:g} s per figure after {settings['warmup_seconds']:g} s warm-up\n"
    )
    rows = [
        ("figure", "rate", "p50 ms", "p99 ms", "÷ floor", "target", "verdict"),
        (
            f"floor   GET /fhir/metadata, {floor['connections']} conn",
            f"{floor['requests_per_second']:,.0f} req/s",
            f"{floor['latency_ms']['p50']:.1f}",
            f"{floor['latency_ms']['p99']:.1f}",
            "1.000",
            "",
            "",
        ),
        (
            f"single  POST /fhir/Observation, {single['connections']} conn, "
            f"{single['patients']:,} patients",
            f"{single['requests_per_second']:,.0f} req/s",
            f"{single['latency_ms']['p50']:.1f}",
            f"{single['latency_ms']['p99']:.1f}",
            _ratio(report["ratios_to_floor"]["single_requests"]),
            f"≥ {SINGLE_TARGET_RPS:,.0f} req/s, p99 < {SINGLE_TARGET_P99_MS:g} ms",
            targets["single"]["verdict"],
        ),
        (
            f"bundle  POST /fhir ×{bundle['observations_per_request']}, "
            f"{bundle['connections']} conn, {bundle['patients']:,} patients",
            f"{bundle['observations_per_second']:,.0f} obs/s "
            f"({bundle['requests_per_second']:,.1f} bundles/s)",
            f"{bundle['latency_ms']['p50']:.1f}",
            f"{bundle['latency_ms']['p99']:.1f}",
            _ratio(report["ratios_to_floor"]["bundle_observations"]),
            f"≥ {BUNDLE_TARGET_OBS:,.0f} obs/s",
            targets["bundle"]["verdict"],
        ),
        (
            f"flood   (worst case) the same on {flood['patients']} patients",
            f"{flood['requests_per_second']:,.0f} req/s",
            f"{flood['latency_ms']['p50']:.1f}",
            f"{flood['latency_ms']['p99']:.1f}",
            _ratio(report["ratios_to_floor"]["flood_requests"]),
            f"p99 < {FLOOD_TARGET_P99_MS:g} ms",
            targets["flood"]["verdict"],
        ),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for number, row in enumerate(rows):
        print(
            "  ".join(
                cell.rjust(w) if 0 < i < 5 else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
        if number == 0:
            print("  ".join("-" * w for w in widths))

    print(
        "\nper stored reading: CPU of the server and of PostgreSQL's backends of this "
        f"database (target ≤ {POSTGRES_TARGET_MS:g} ms), statements the server sent "
        "(transactions):"
    )
    for name in ("single", "bundle", "flood"):
        cost = report["per_reading"][name]
        if not cost:
            continue
        shown = "n/a" if cost["statements"] is None else f"{cost['statements']:.2f}"
        print(
            f"  {name:<7} server {cost['server_cpu_ms']:.3f} ms, PostgreSQL "
            f"{cost['postgres_cpu_ms']:.3f} ms, {shown} statements "
            f"({cost['transactions']} transactions) over {cost['readings']:,} readings"
        )

    print("\nwho held the CPUs during each measurement (cores, average):")
    for phase in (floor, single, bundle, flood):
        cpu = phase["cpu"]
        print(
            f"  {phase['name']:<7} server {cpu['server_cores']:.2f} "
            f"({' + '.join(f'{c:.2f}' for c in cpu['server_cores_per_process'] if c >= 0.01)}), "
            f"PostgreSQL and other {cpu['other_cores']:.2f} (this database's backends "
            f"{cpu['postgres_cores']:.2f}), load generator "
            f"{cpu['client_cores']:.2f}; machine {cpu['machine_cores']:.2f} of "
            f"{cpu['machine_cores_available']}; connections per worker "
            f"{'/'.join(str(n) for n in phase['connections_per_worker'])}"
        )

    for phase in (floor, single, bundle, flood):
        failed = phase["non_2xx_total"] + phase["network_errors"]
        if failed or phase["repeats_total"]:
            print(
                f"\n{phase['name']}: {phase['non_2xx_total']} non-2xx answers "
                f"{phase['statuses_total']}, {phase['network_errors']} connection errors, "
                f"{phase['repeats_total']} readings answered as already stored"
            )
            for error in phase["errors"]:
                print(f"  status {error['status']}: {error['body'][:1500]}")
        elif phase["method"] == "POST":
            print(f"\n{phase['name']}: {phase['non_2xx_total']} non-2xx answers")

    check = report["verification"]
    verdict = "OK" if check["ok"] else "MISMATCH: READINGS LOST OR UNACCOUNTED FOR"
    print(
        f"\ndata check: {check['answered_201']:,} readings answered 201 Created, "
        f"{check['rows_added']:,} rows added to observation "
        f"({check['rows_with_bench_identifier']:,} with this run's identifier): {verdict}"
    )


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _shown(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(Path.cwd()))
    return str(path)


if __name__ == "__main__":
    raise SystemExit(main())
