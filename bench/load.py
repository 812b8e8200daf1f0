"""The load generator: ``python -m bench.load < plan.json > results.json``.

It runs as one process of its own so that it never shares a GIL with the server, and it
speaks HTTP/1.1 over bare asyncio streams because a general client such as httpx spends
more CPU per request than the service spends answering the floor endpoint: on a 2-core
machine the benchmark would then measure its own client. Each connection is a closed
loop (send, read the whole answer, send the next), so the offered load adapts to the
server and latency is not inflated by an unbounded queue in front of it.

Every POSTed reading is new (a unique ``identifier`` and an ``effectiveDateTime`` one
second further in the past per reading): a repeat would take the cheaper "already
stored" path and flatter the figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import os
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from time import perf_counter
from typing import Any

import orjson

from service import statement_counts

UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
# Readings carry the offset a Norwegian gateway sends in winter.
GATEWAY_ZONE = timezone(timedelta(hours=1))
# How many answers whose body is kept for the report: enough to see a pattern.
KEPT_ERRORS = 3


# --- what is sent ---------------------------------------------------------------------


def _quantity(value: float, unit: str, code: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": code}


def _code(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": LOINC, "code": code, "display": display}]}


def _shape(kind: str, rng: random.Random) -> dict[str, Any]:
    """The part of a reading that does not depend on who, when or which one."""
    shape: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
    }
    if kind == "heart_rate":
        shape["code"] = _code("8867-4", "Heart rate")
        shape["valueQuantity"] = _quantity(rng.randint(48, 118), "/min", "/min")
    elif kind == "spo2":
        shape["code"] = _code("59408-5", "Oxygen saturation by pulse oximetry")
        shape["valueQuantity"] = _quantity(rng.randint(86, 99), "%", "%")
    elif kind == "body_weight":
        shape["code"] = _code("29463-7", "Body weight")
        shape["valueQuantity"] = _quantity(round(rng.uniform(52.0, 125.0), 1), "kg", "kg")
    elif kind == "blood_pressure":
        shape["code"] = _code("85354-9", "Blood pressure panel")
        shape["component"] = [
            {
                "code": _code("8480-6", "Systolic blood pressure"),
                "valueQuantity": _quantity(rng.randint(98, 178), "mmHg", "mm[Hg]"),
            },
            {
                "code": _code("8462-4", "Diastolic blood pressure"),
                "valueQuantity": _quantity(rng.randint(55, 105), "mmHg", "mm[Hg]"),
            },
        ]
    else:
        raise ValueError(kind)
    return shape


# A pulse oximeter sends pulse and saturation together, several times a day; blood
# pressure once or twice, weight once: the mix a heart-failure or COPD patient sends.
MIX = ("heart_rate", "spo2", "blood_pressure", "heart_rate", "spo2", "body_weight")


class Readings:
    """Distinct readings, cheap to make: the shapes are drawn before the clock starts,
    so a request costs a dict copy and one ``orjson.dumps``."""

    def __init__(
        self, patients: list[str], run_id: str, counter: Iterator[int] | None = None
    ) -> None:
        rng = random.Random(20261123)
        self.shapes = [_shape(MIX[i % len(MIX)], rng) for i in range(len(MIX) * 101)]
        self.subjects = [{"reference": f"Patient/{p}"} for p in patients]
        self.system = f"urn:dho:bench:{run_id}"
        now = datetime.now(UTC).astimezone(GATEWAY_ZONE).replace(microsecond=0)
        self.base = now - timedelta(minutes=1)  # a reading from the future would be refused
        # Shared by the phases' readings, so identifiers and times never repeat.
        self.counter = counter if counter is not None else itertools.count()

    def observation(self, subject: int) -> dict[str, Any]:
        n = next(self.counter)
        resource = dict(self.shapes[n % len(self.shapes)])
        resource["identifier"] = [{"system": self.system, "value": str(n)}]
        resource["subject"] = self.subjects[subject]
        when = self.base - timedelta(seconds=n)
        resource["effectiveDateTime"] = when.isoformat(timespec="seconds")
        return resource


@dataclass(frozen=True)
class Phase:
    name: str
    method: str
    path: str
    connections: int
    make: Callable[[], bytes]
    # From a 2xx answer: (readings stored as new, readings answered as already stored).
    stored: Callable[[int, bytes], tuple[int, int]]
    observations_per_request: int = 1
    patients: int = 0


def _phase(spec: dict[str, Any], plan: dict[str, Any], readings: Readings) -> Phase:
    host = f"{plan['host']}:{plan['port']}"
    kind = spec["kind"]
    if kind == "floor":
        request = (
            f"GET /fhir/metadata HTTP/1.1\r\nHost: {host}\r\nAccept: application/fhir+json\r\n\r\n"
        ).encode()
        return Phase(
            spec["name"], "GET", "/fhir/metadata", spec["connections"], lambda: request, _nothing
        )
    path = "/fhir/Observation" if kind == "single" else "/fhir"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {plan['token']}\r\n"
        "Content-Type: application/fhir+json\r\nAccept: application/fhir+json\r\n"
        "Content-Length: "
    ).encode()
    patients = len(readings.subjects)

    def http(body: bytes) -> bytes:
        return b"%s%d\r\n\r\n%s" % (head, len(body), body)

    if kind == "single":
        sent = itertools.count()

        def single() -> bytes:
            return http(orjson.dumps(readings.observation(next(sent) % patients)))

        return Phase(
            spec["name"], "POST", path, spec["connections"], single, _single_stored, 1, patients
        )

    size = spec["bundle_size"]
    bundles = itertools.count()

    def bundle() -> bytes:
        subject = next(bundles) % patients
        entries = [
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": readings.observation(subject),
                "request": {"method": "POST", "url": "Observation"},
            }
            for _ in range(size)
        ]
        return http(
            orjson.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries})
        )

    return Phase(
        spec["name"], "POST", path, spec["connections"], bundle, _bundle_stored, size, patients
    )


def _nothing(_status: int, _body: bytes) -> tuple[int, int]:
    return 0, 0


def _single_stored(status: int, _body: bytes) -> tuple[int, int]:
    return (1, 0) if status == 201 else (0, 1)


def _bundle_stored(_status: int, body: bytes) -> tuple[int, int]:
    return body.count(b'"201 Created"'), body.count(b'"200 OK"')


# --- HTTP/1.1 over a stream -----------------------------------------------------------


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, whether the server will close the connection)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at >= 0:
        end = lower.find(b"\r\n", at + 17)
        body = await reader.readexactly(int(lower[at + 17 : end]))
    elif b"\r\ntransfer-encoding: chunked" in lower:
        body = await _read_chunked(reader)
    else:
        return status, await reader.read(), True
    return status, body, b"\r\nconnection: close" in lower


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass  # trailers
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


# --- measuring ------------------------------------------------------------------------


@dataclass
class Window:
    """Answers completed between ``measure_from`` and ``end`` count; earlier ones are
    the warm-up (connections, pools and caches filling), later ones the drain."""

    measure_from: float
    end: float


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    observations: int = 0  # stored as new, in the window
    # Over the whole phase, warm-up and drain included: what the database must hold.
    stored_total: int = 0
    repeats_total: int = 0
    statuses_total: Counter[int] = field(default_factory=Counter)
    network_errors: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def answer(
        self, phase: Phase, window: Window, t0: float, t1: float, status: int, body: bytes
    ) -> None:
        ok = 200 <= status < 300
        stored, repeated = phase.stored(status, body) if ok else (0, 0)
        self.stored_total += stored
        self.repeats_total += repeated
        self.statuses_total[status] += 1
        if window.measure_from <= t1 <= window.end:
            self.latencies.append(t1 - t0)
            self.statuses[status] += 1
            self.observations += stored
        if not ok and len(self.errors) < KEPT_ERRORS:
            self.errors.append({"status": status, "body": body[:4000].decode(errors="replace")})

    def failure(self, error: BaseException) -> None:
        self.network_errors += 1
        if len(self.errors) < KEPT_ERRORS:
            self.errors.append({"status": None, "body": f"{type(error).__name__}: {error}"})


Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _client(
    plan: dict[str, Any], phase: Phase, window: Window, tally: Tally, stream: Stream
) -> None:
    reader: asyncio.StreamReader | None = stream[0]
    writer: asyncio.StreamWriter | None = stream[1]
    while perf_counter() < window.end:
        if writer is None:
            try:
                reader, writer = await asyncio.open_connection(plan["host"], plan["port"])
            except OSError as error:
                tally.failure(error)
                await asyncio.sleep(0.05)
                continue
        assert reader is not None
        request = phase.make()
        t0 = perf_counter()
        try:
            writer.write(request)
            await writer.drain()
            status, body, close = await _read_response(reader)
        except (OSError, EOFError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
            tally.failure(error)
            writer.close()
            writer = None
            continue
        tally.answer(phase, window, t0, perf_counter(), status, body)
        if close:
            writer.close()
            writer = None
    if writer is not None:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _open(
    plan: dict[str, Any], count: int, workers: list[int]
) -> tuple[list[Stream], list[int]]:
    """``count`` connections spread evenly over the server's workers.

    uvicorn's workers share one listening socket and the first to wake accepts a whole
    burst of connections: left alone, all 32 connections of a phase sometimes land on
    one worker, and the figure then measures one worker instead of two. Each connection
    answers one request before the next is opened (so that a worker has accepted it);
    the kernel's socket tables tell which worker holds it, and one that would make its
    worker hold more than its share is closed and opened again. Where that cannot be
    seen (no /proc, no worker found) the connections are kept as they land.
    """
    probe = (f"GET /fhir/metadata HTTP/1.1\r\nHost: {plan['host']}:{plan['port']}\r\n\r\n").encode()
    share = math.ceil(count / len(workers)) if workers else count
    held: Counter[int] = Counter()
    streams: list[Stream] = []
    retries = 0
    while len(streams) < count:
        reader, writer = await asyncio.open_connection(plan["host"], plan["port"])
        writer.write(probe)
        await _read_response(reader)
        owner = _owner(plan["port"], writer.get_extra_info("sockname")[1], workers)
        if owner is not None and held[owner] >= share and retries < 50 * count:
            retries += 1
            writer.close()
            continue
        held[owner if owner is not None else -1] += 1
        streams.append((reader, writer))
    return streams, sorted(held.values(), reverse=True)


def _owner(server_port: int, client_port: int, workers: list[int]) -> int | None:
    """The worker process holding the server side of the connection from ``client_port``."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, remote = fields[1], fields[2]
                if (
                    int(local.rsplit(":", 1)[1], 16) == server_port
                    and int(remote.rsplit(":", 1)[1], 16) == client_port
                ):
                    inode = fields[9]
                    break
        if inode is not None:
            break
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in workers:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                        return pid
    return None


def _workers(server_pids: list[int]) -> list[int]:
    """The server's worker processes: its descendants that run the application."""
    workers = []
    for pid in server_pids[1:]:
        with contextlib.suppress(OSError):
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"resource_tracker" not in command:
                workers.append(pid)
    return workers


class CpuClock:
    """CPU time of this process, of the server's processes and of the whole machine:
    on a 2-core machine shared by client, server and PostgreSQL, a rate means little
    without knowing who held the cores."""

    def __init__(
        self, server_pid: int | None, database: str | None = None, counts_dir: str | None = None
    ) -> None:
        self.server_pids = _descendants(server_pid) if server_pid else []
        self.tick = os.sysconf("SC_CLK_TCK")
        self.database = database
        self.counts_dir = counts_dir

    def read(self) -> dict[str, Any]:
        busy, total = machine_jiffies()
        processes = [_process_jiffies(pid) / self.tick for pid in self.server_pids]
        backends = {pid: j / self.tick for pid, j in _backend_jiffies(self.database).items()}
        statements = (
            statement_counts.read(self.counts_dir, self.server_pids) if self.counts_dir else None
        )
        return {
            "wall": perf_counter(),
            "client": time.process_time(),
            "server": sum(processes),
            "server_processes": processes,
            "postgres_backends": backends,
            "statements": statements,
            "machine_busy": busy / self.tick,
            "machine_total": total / self.tick,
        }


def _backend_jiffies(database: str | None) -> dict[int, int]:
    """CPU time of the PostgreSQL backends serving ``database`` (their process title
    names it): the server's pooled connections, not the other databases of a shared
    PostgreSQL nor its background writers."""
    if not database:
        return {}
    found = {}
    marker = f" {database} ".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if title.startswith(b"postgres:") and marker in title:
            found[int(entry.name)] = _process_jiffies(int(entry.name))
    return found


def _cpu_use(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Cores used on average over the window (1.0 = one core fully busy).

    Per server process too: uvicorn's workers share one listening socket, and a few
    long-lived connections (gateways sending Bundles) may all land on one worker."""
    wall = after["wall"] - before["wall"]
    total = after["machine_total"] - before["machine_total"]
    cores = os.cpu_count() or 1
    machine = (after["machine_busy"] - before["machine_busy"]) / total * cores if total else 0.0
    client = (after["client"] - before["client"]) / wall
    server = (after["server"] - before["server"]) / wall
    backends = after["postgres_backends"]
    postgres = sum(j - before["postgres_backends"].get(pid, 0.0) for pid, j in backends.items())
    statements = None
    if after["statements"] is not None and before["statements"] is not None:
        statements = [b - a for a, b in zip(before["statements"], after["statements"], strict=True)]
    return {
        # CPU seconds over the window, for the cost of one reading.
        "server_seconds": round(after["server"] - before["server"], 3),
        "postgres_seconds": round(postgres, 3),
        "postgres_cores": round(postgres / wall, 2),
        # Statements, transactions begun and commits the server sent over the window.
        "statements": statements,
        "client_cores": round(client, 2),
        "server_cores": round(server, 2),
        "server_cores_per_process": [
            round((b - a) / wall, 2)
            for a, b in zip(before["server_processes"], after["server_processes"], strict=True)
        ],
        "machine_cores": round(machine, 2),
        # PostgreSQL, mostly: the machine's busy time that is neither client nor server.
        "other_cores": round(max(machine - client - server, 0.0), 2),
        "machine_cores_available": cores,
    }


def _process_jiffies(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = stat[stat.rfind(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def machine_jiffies() -> tuple[int, int]:
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0, 0
    values = [int(v) for v in first[:8]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values)


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat[stat.rfind(")") + 2 :].split()[1])
    found = [root]
    for pid in found:
        found.extend(child for child, parent in parents.items() if parent == pid)
    return found


def _percentile(ordered: list[float], q: float) -> float:
    """Nearest rank: a value that was actually observed."""
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def _run_phase(plan: dict[str, Any], phase: Phase, cpu: CpuClock) -> dict[str, Any]:
    warmup, seconds = plan["warmup"], plan["seconds"]
    print(
        f"  {phase.name}: {phase.method} {phase.path}, {phase.connections} connections, "
        f"{warmup:g} s warm-up + {seconds:g} s",
        file=sys.stderr,
        flush=True,
    )
    streams, per_worker = await _open(plan, phase.connections, _workers(cpu.server_pids))
    start = perf_counter()
    window = Window(start + warmup, start + warmup + seconds)
    tally = Tally()
    clients = [asyncio.create_task(_client(plan, phase, window, tally, s)) for s in streams]
    await asyncio.sleep(max(window.measure_from - perf_counter(), 0))
    before = cpu.read()
    await asyncio.sleep(max(window.end - perf_counter(), 0))
    after = cpu.read()
    await asyncio.gather(*clients)

    ordered = sorted(tally.latencies)
    requests = len(ordered)
    ok = sum(n for status, n in tally.statuses.items() if 200 <= status < 300)
    return {
        "name": phase.name,
        "patients": phase.patients,
        "method": phase.method,
        "path": phase.path,
        "connections": phase.connections,
        "connections_per_worker": per_worker,
        "warmup_seconds": warmup,
        "seconds": seconds,
        "requests": requests,
        "requests_per_second": requests / seconds,
        "ok": ok,
        "non_2xx": requests - ok,
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "latency_ms": {
            "p50": _percentile(ordered, 0.50) * 1000,
            "p90": _percentile(ordered, 0.90) * 1000,
            "p99": _percentile(ordered, 0.99) * 1000,
            "max": (ordered[-1] if ordered else math.nan) * 1000,
            "mean": (sum(ordered) / requests if requests else math.nan) * 1000,
        },
        "observations_per_request": phase.observations_per_request if phase.method == "POST" else 0,
        "observations": tally.observations,
        "observations_per_second": tally.observations / seconds,
        "stored_total": tally.stored_total,
        "repeats_total": tally.repeats_total,
        "statuses_total": {str(k): v for k, v in sorted(tally.statuses_total.items())},
        "non_2xx_total": sum(n for s, n in tally.statuses_total.items() if not 200 <= s < 300),
        "network_errors": tally.network_errors,
        "errors": tally.errors,
        "cpu": _cpu_use(before, after),
    }


async def run(plan: dict[str, Any]) -> dict[str, Any]:
    readings = Readings(plan["patients"], plan["run_id"])
    cpu = CpuClock(plan.get("server_pid"), plan.get("database"), plan.get("counts_dir"))
    # A phase may name patients of its own (the flood on a few patients).
    phases = [
        _phase(
            spec,
            plan,
            Readings(spec["patients"], plan["run_id"], readings.counter)
            if spec.get("patients")
            else readings,
        )
        for spec in plan["phases"]
    ]
    results = [await _run_phase(plan, phase, cpu) for phase in phases]
    return {
        "event_loop": type(asyncio.get_running_loop()).__module__,
        "server_processes": len(cpu.server_pids),
        "phases": results,
    }


def main() -> int:
    plan = json.load(sys.stdin)
    try:
        import uvloop  # installed with uvicorn[standard]; halves the client's CPU per request
    except ImportError:
        results = asyncio.run(run(plan))
    else:
        results = uvloop.run(run(plan))
    sys.stdout.write(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
