"""The fault harness (issue #17): the service's topology on loopback, under load, while
processes are killed and the database restarts; then what was promised is checked.

``python -m tests.faults.harness --seconds 90`` (``make fault-test``). It makes its own
PostgreSQL cluster (``tests.faults.cluster``), starts two ``dho serve`` processes (two
workers each) and two ``dho worker`` processes, and runs gateways (single readings,
repeats, retries after a timeout, late deliveries) spread over both API processes and
nurses claiming and resolving. During the load: ``kill -9`` of one API process and one
worker and their restart, ``pg_ctl restart -m fast``, a client that holds an upload
open, and a burst of ten times the gateways. It prints the checks as a table and the
recovery time after each fault, and exits non-zero when a check fails.

It lives under ``tests/`` because it is a test: it uses the suite's factories (tokens,
resources) and runs, shortened, in the suite (``tests/faults/test_fault_harness.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from service.auth.dev_issuer import load_or_create_key
from service.migrate import upgrade
from service.settings import Settings
from service.worker import JOBS
from tests.factories import auth, observation, patient_resource
from tests.faults.cluster import Cluster, free_port, server_bin

DHO = str(Path(sys.executable).with_name("dho"))


@dataclass
class Ledger:
    """Every answer the clients got, to hold against what the database holds after."""

    answers: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    claims: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    statuses: list[int] = field(default_factory=list)
    ok_at: list[float] = field(default_factory=list)
    recovery: dict[str, float] = field(default_factory=dict)
    # Per SSE client: its centre, the position it started at, each seq it saw, resumes.
    streams: dict[str, tuple[str, list[int]]] = field(default_factory=dict)
    resumes: int = 0


class Topology:
    """The processes, each restartable; their output goes to files under ``root``."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root, self.env = root, env
        self.ports = [free_port(), free_port()]
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> None:
        if name.startswith("api"):
            port = self.ports[int(name[-1])]
            command = [DHO, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
        else:
            command = [DHO, "worker"]
        with (self.root / f"{name}.log").open("a") as log:
            self.processes[name] = subprocess.Popen(
                command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def kill(self, name: str) -> None:
        """``kill -9`` of the process group: uvicorn's supervisor and its workers."""
        os.killpg(self.processes[name].pid, signal.SIGKILL)
        self.processes[name].wait()

    def stop_all(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)

    def bases(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.ports]


async def _healthy(base: str, until: float) -> float:
    start = time.monotonic()
    async with httpx.AsyncClient(timeout=1) as client:
        while time.monotonic() < until:
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(f"{base}/health")).status_code == 200:
                    return time.monotonic() - start
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{base} never answered")


async def _setup(settings: Settings, bases: list[str], patients: int) -> tuple[Any, list[Any]]:
    from service.auth.dev_issuer import mint_token
    from service.auth.principal import Role
    from service.centres import repository as centres
    from service.database import create_engine
    from tests.factories import new_identity_number

    engine = create_engine(settings)
    centre_ids = ["c-fault-a", "c-fault-b"]
    async with engine.begin() as conn:
        for centre in centre_ids:
            await centres.upsert(conn, {"id": centre, "name": centre, "municipalities": ["1804"]})
    await engine.dispose()
    nurses = {
        c: mint_token(settings, role=Role.nurse, subject=f"nurse-{c}", centres=[c])
        for c in centre_ids
    }
    enrolled = []
    async with httpx.AsyncClient(timeout=10) as client:
        for n in range(patients):
            centre = centre_ids[n % 2]
            nurse = auth(nurses[centre])
            made = await client.post(
                f"{bases[n % 2]}/fhir/Patient",
                json=patient_resource(new_identity_number(), centre),
                headers=nurse,
            )
            made.raise_for_status()
            pid = made.json()["id"]
            plan = await client.put(
                f"{bases[n % 2]}/api/patients/{pid}/care-plan",
                json={"protocol": "heart_failure", "reason": "fault harness"},
                headers=nurse,
            )
            plan.raise_for_status()
            token = mint_token(settings, role=Role.patient, subject=pid)
            enrolled.append((pid, centre, auth(token)))
    return [(c, auth(t)) for c, t in nurses.items()], enrolled


async def _gateway(
    n: int, bases: list[str], patients: list[Any], ledger: Ledger, stop: asyncio.Event
) -> None:
    """Readings, each with its own key (its identifier), alone or a few in a transaction
    Bundle (a gateway's upload after a while offline); some sent twice, some late, and
    every one that timed out sent again (a device's retry)."""
    rng = random.Random(n)
    counter = itertools.count()
    async with httpx.AsyncClient(timeout=httpx.Timeout(2.0)) as client:
        while not stop.is_set():
            pid, _, headers = rng.choice(patients)
            late = rng.random() < 0.1
            when = datetime.now(UTC) - timedelta(
                hours=rng.randint(20, 40) if late else 0, minutes=1
            )
            size = rng.randint(2, 5) if rng.random() < 0.25 else 1
            keys = [f"g{n}-{next(counter)}" for _ in range(size)]
            readings = [
                observation(
                    pid,
                    "8867-4",
                    rng.randint(50, 140),
                    effective=when - timedelta(minutes=i),
                    identifier=key,
                )
                for i, key in enumerate(keys)
            ]
            url, body = _upload(readings)
            sends = 2 if rng.random() < 0.1 else 1
            while sends > 0 and not stop.is_set():
                base = bases[rng.randrange(2)]
                try:
                    answer = await client.post(f"{base}{url}", json=body, headers=headers)
                except httpx.TransportError:
                    for key in keys:
                        ledger.answers[key].append(0)  # no answer: may or may not be stored
                    await asyncio.sleep(0.2)
                    continue
                for key in keys:
                    ledger.answers[key].append(answer.status_code)
                ledger.statuses.append(answer.status_code)
                if answer.status_code in (200, 201):
                    ledger.ok_at.append(time.monotonic())
                    sends -= 1
                elif answer.status_code == 503:
                    await asyncio.sleep(float(answer.headers.get("Retry-After", "1")) / 4)
                else:
                    sends = 0
            await asyncio.sleep(rng.uniform(0.02, 0.1))


def _upload(readings: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """One reading alone, or several as an all-or-nothing transaction Bundle."""
    if len(readings) == 1:
        return "/fhir/Observation", readings[0]
    entries = [
        {
            "fullUrl": f"urn:uuid:{uuid4()}",
            "resource": reading,
            "request": {"method": "POST", "url": "Observation"},
        }
        for reading in readings
    ]
    return "/fhir", {"resourceType": "Bundle", "type": "transaction", "entry": entries}


async def _nurse(
    name: str,
    centre_headers: tuple[str, dict[str, str]],
    bases: list[str],
    ledger: Ledger,
    stop: asyncio.Event,
) -> None:
    _, headers = centre_headers
    rng = random.Random(name)
    async with httpx.AsyncClient(timeout=5) as client:
        while not stop.is_set():
            base = bases[rng.randrange(2)]
            with contextlib.suppress(httpx.TransportError, ValueError, KeyError):
                queue = await client.get(f"{base}/api/queue", headers=headers)
                ledger.statuses.append(queue.status_code)
                items = queue.json().get("items", []) if queue.status_code == 200 else []
                open_items = [i for i in items if i["state"] == "open"]
                if open_items:
                    item = rng.choice(open_items)
                    claim = await client.post(
                        f"{base}/api/queue/{item['id']}/claim", headers=headers
                    )
                    ledger.statuses.append(claim.status_code)
                    if claim.status_code == 200:
                        ledger.claims[item["id"]].append(name)
                        resolve = await client.post(
                            f"{base}/api/queue/{item['id']}/resolve",
                            json={"outcome": "no_action_needed", "actions": ["reviewed_readings"]},
                            headers=headers,
                        )
                        ledger.statuses.append(resolve.status_code)
            await asyncio.sleep(rng.uniform(0.1, 0.3))


async def _stream(
    name: str,
    centre_headers: tuple[str, dict[str, str]],
    base: str,
    bases: list[str],
    ledger: Ledger,
    stop: asyncio.Event,
) -> None:
    """A nurse's live queue: every event of the centre, in order; when the stream drops
    (its process killed, the database restarted), it resumes with Last-Event-ID, from
    the other process if its own is down."""
    centre, headers = centre_headers
    seen: list[int] = []
    ledger.streams[name] = (centre, seen)
    last_id: str | None = None
    target = base
    while not stop.is_set():
        sent = {**headers, **({"Last-Event-ID": last_id} if last_id else {})}
        try:
            async with (
                httpx.AsyncClient(timeout=httpx.Timeout(5, read=20)) as client,
                client.stream("GET", f"{target}/api/queue/events", headers=sent) as answer,
            ):
                if answer.status_code != 200:
                    ledger.statuses.append(answer.status_code)
                    raise httpx.TransportError("refused")
                async for line in answer.aiter_lines():
                    if line.startswith("id: "):
                        last_id = line[4:]
                        position = int(last_id.rsplit(":", 1)[1])
                        if not seen:
                            seen.append(position)  # where the stream started
                        elif position != seen[-1]:
                            seen.append(position)
                    if stop.is_set():
                        return
        except (httpx.TransportError, httpx.StreamError):
            await asyncio.sleep(0.3)
        if not stop.is_set():
            ledger.resumes += 1
            target = bases[(bases.index(target) + 1) % 2] if target != base else base
            target = target if await _answers(target) else base


async def _answers(base: str) -> bool:
    with contextlib.suppress(httpx.TransportError):
        async with httpx.AsyncClient(timeout=1) as client:
            return (await client.get(f"{base}/health")).status_code == 200
    return False


async def _slow_upload(base: str, seconds: float) -> None:
    """Headers and part of a body, then a byte now and then: the upload held open."""
    host, port = base.removeprefix("http://").split(":")
    _reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"POST /fhir/Observation HTTP/1.1\r\nHost: x\r\nContent-Type: application/fhir+json\r\n"
        b"Content-Length: 100000\r\n\r\n{"
    )
    await writer.drain()
    end = time.monotonic() + seconds
    with contextlib.suppress(OSError):
        while time.monotonic() < end:
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(0.5)
    writer.close()


def _first_ok_after(ledger: Ledger, moment: float) -> float | None:
    later = [t for t in ledger.ok_at if t > moment]
    return min(later) - moment if later else None


async def _faults(
    topology: Topology, cluster: Cluster, ledger: Ledger, seconds: float, burst: Any
) -> None:
    step = seconds / 6
    await asyncio.sleep(step)
    moment = time.monotonic()
    topology.kill("api0")
    topology.kill("worker0")
    topology.start("api0")
    topology.start("worker0")
    ledger.recovery["kill -9 API process: healthy again"] = await _healthy(
        topology.bases()[0], moment + 60
    )
    await asyncio.sleep(step)
    moment = time.monotonic()
    await asyncio.to_thread(cluster.restart)
    back = time.monotonic()
    ledger.recovery["pg_ctl restart -m fast: database away"] = back - moment
    await asyncio.sleep(step / 2)
    found = _first_ok_after(ledger, back)
    ledger.recovery["pg_ctl restart: first stored reading after"] = (
        found if found is not None else -1
    )
    await asyncio.sleep(step / 2)
    slow = asyncio.create_task(_slow_upload(topology.bases()[1], step))
    moment = time.monotonic()
    await burst(step / 2)
    ledger.recovery["10x burst: lasted (s)"] = time.monotonic() - moment
    await slow


async def _check(url: str, ledger: Ledger) -> list[tuple[str, str, bool]]:
    engine = create_async_engine(url)
    rows: list[tuple[str, str, bool]] = []
    async with engine.connect() as conn:
        stored: dict[str, int] = defaultdict(int)
        ids: dict[str, str] = {}
        result = await conn.execute(
            sa.text("SELECT id, identifier_value FROM observation WHERE identifier_value LIKE 'g%'")
        )
        for oid, key in result:
            stored[key] += 1
            ids[key] = oid
        acknowledged = [k for k, a in ledger.answers.items() if any(s in (200, 201) for s in a)]
        refused = [k for k, a in ledger.answers.items() if a and all(s >= 400 for s in a)]
        once = sum(1 for k in acknowledged if stored.get(k) == 1)
        rows.append(
            (
                "readings answered 200/201, stored exactly once",
                f"{once}/{len(acknowledged)}",
                once == len(acknowledged),
            )
        )
        leaked = sum(1 for k in refused if stored.get(k, 0) > 0)
        rows.append(
            (
                "readings answered only with errors, not stored",
                f"{len(refused) - leaked}/{len(refused)}",
                leaked == 0,
            )
        )
        loose = (
            await conn.execute(
                sa.text(
                    "SELECT count(*) FROM finding WHERE item_id IS NULL"
                    " AND severity != 'green' AND NOT snoozed"
                )
            )
        ).scalar_one()
        total = (await conn.execute(sa.text("SELECT count(*) FROM finding"))).scalar_one()
        rows.append(
            (
                "findings raising an item, in exactly one item",
                f"{total - loose}/{total}",
                loose == 0,
            )
        )
        last = dict(
            (
                await conn.execute(sa.text("SELECT centre_id, last_event_seq FROM queue_policy"))
            ).all()
        )
        broken = 0
        for centre, seen in ledger.streams.values():
            wanted = list(range(seen[0], int(last.get(centre, 0)) + 1)) if seen else [-1]
            broken += seen != wanted
        rows.append(
            (
                f"SSE clients with every event, in order ({ledger.resumes} resumes)",
                f"{len(ledger.streams) - broken}/{len(ledger.streams)}",
                broken == 0,
            )
        )
        acknowledged_ids = sorted({ids[k] for k in acknowledged if k in ids})
        doubled = sum(1 for names in ledger.claims.values() if len(names) > 1)
        rows.append(("items claimed by two nurses", str(doubled), doubled == 0))
        audited = (
            await conn.execute(
                # A reading posted alone is audited by its id; a Bundle's request once
                # per patient it stored readings for (service.audit.record_bundle).
                sa.text(
                    "SELECT count(*) FROM observation o WHERE o.id = ANY(:ids) AND ("
                    " EXISTS (SELECT 1 FROM audit_event a WHERE a.resource_type = 'Observation'"
                    "  AND a.resource_id = o.id)"
                    " OR EXISTS (SELECT 1 FROM audit_event a WHERE a.resource_type = 'Bundle'"
                    "  AND a.patient_id = o.patient_id AND a.recorded_at >= o.received_at))"
                ),
                {"ids": acknowledged_ids},
            )
        ).scalar_one()
        rows.append(
            (
                "acknowledged readings with an audit record",
                f"{audited}/{len(acknowledged_ids)}",
                audited == len(acknowledged_ids),
            )
        )
        # A tick is claimed once by its primary key, so none can run twice; what can
        # happen is a tick nobody ran, while a worker was killed or waiting: between a
        # job's first and last tick of the run, every tick must have a row.
        ticks = (
            await conn.execute(
                sa.text("SELECT job, count(*), min(tick), max(tick) FROM job_run GROUP BY job")
            )
        ).all()
        intervals = {job.name: max(1, int(job.interval_seconds)) for job in JOBS}
        lost = sum(
            (int(last) - int(first)) // intervals[job] + 1 - int(n)
            for job, n, first, last in ticks
            if job in intervals
        )
        rows.append(
            (
                "job ticks lost between a job's first and last (job_run)",
                f"{lost} of {sum(int(n) for _, n, _, _ in ticks)} run",
                lost == 0,
            )
        )
    await engine.dispose()
    five = sum(1 for s in ledger.statuses if s >= 500 and s != 503)
    rows.append(("5xx answers (503 apart)", str(five), five == 0))
    rows.append(("503 answers (Retry-After)", str(ledger.statuses.count(503)), True))
    rows.append(("requests answered", str(len(ledger.statuses)), True))
    return rows


async def run(
    seconds: float, gateways: int = 6
) -> tuple[list[tuple[str, str, bool]], dict[str, float]]:
    bin_dir = server_bin()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
    cluster = Cluster(bin_dir)
    root = Path(tempfile.mkdtemp(prefix="dho-faults-"))
    topology: Topology | None = None
    try:
        cluster.start()
        await asyncio.to_thread(upgrade, cluster.url)
        env = {
            **os.environ,
            "DHO_DATABASE_URL": cluster.url,
            "DHO_VAR_DIR": str(root / "var"),
            "DHO_JOBS_IN_PROCESS": "false",
            "DHO_LOG_LEVEL": "WARNING",
            "DHO_DB_POOL_SIZE": "5",
        }
        settings = Settings(database_url=cluster.url, var_dir=root / "var", jobs_in_process=False)
        load_or_create_key(settings.var_dir)
        topology = Topology(root, env)
        for name in ("api0", "api1", "worker0", "worker1"):
            topology.start(name)
        for base in topology.bases():
            await _healthy(base, time.monotonic() + 60)
        nurses, patients = await _setup(settings, topology.bases(), 12)
        ledger = Ledger()
        stop = asyncio.Event()
        watching = asyncio.Event()
        bases = topology.bases()
        streams = [
            asyncio.create_task(
                _stream(f"sse{n}", nurses[n % 2], bases[n // 2], bases, ledger, watching)
            )
            for n in range(4)
        ]
        await asyncio.sleep(1)  # the streams are open before the first event
        load = [
            asyncio.create_task(_gateway(n, topology.bases(), patients, ledger, stop))
            for n in range(gateways)
        ]
        load += [
            asyncio.create_task(
                _nurse(f"nurse{n}", nurses[n % len(nurses)], topology.bases(), ledger, stop)
            )
            for n in range(4)
        ]

        async def burst(duration: float) -> None:
            ends = asyncio.Event()
            extra = [
                asyncio.create_task(_gateway(100 + n, topology.bases(), patients, ledger, ends))
                for n in range(gateways * 9)
            ]
            await asyncio.sleep(duration)
            ends.set()
            await asyncio.gather(*extra)

        await asyncio.wait_for(
            _faults(topology, cluster, ledger, seconds, burst), timeout=seconds * 3
        )
        stop.set()
        await asyncio.gather(*load)
        await asyncio.sleep(3)  # the streams catch up with the last events
        watching.set()
        for task in streams:
            task.cancel()
        await asyncio.gather(*streams, return_exceptions=True)
        return await _check(cluster.url, ledger), ledger.recovery
    finally:
        if topology is not None:
            topology.stop_all()
        cluster.remove()


def print_table(rows: list[tuple[str, str, bool]], recovery: dict[str, float]) -> None:
    width = max(len(r[0]) for r in rows)
    print(f"{'check':<{width}}  {'figure':>14}  ok")
    for name, figure, ok in rows:
        print(f"{name:<{width}}  {figure:>14}  {'yes' if ok else 'NO'}")
    print()
    for fault, after in recovery.items():
        print(f"{fault:<{width}}  {after:>12.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=90)
    args = parser.parse_args()
    rows, recovery = asyncio.run(run(args.seconds))
    print_table(rows, recovery)
    return 0 if all(ok for _, _, ok in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
