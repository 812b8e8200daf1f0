"""``make bench``, part 3: the journal's outbox (issue 15). How many documents per
second ``dho worker`` delivers to a local receiving FHIR endpoint, and how long a
resolved item waits from its resolve to its delivery.

A fresh PostgreSQL database is created and dropped, also on failure. The receiver is
the tests' (``tests/journal/receiver.py``, a process of its own that validates each
Bundle with fhir.resources and stores it once per identifier); the worker is a real
``dho worker`` process with the default settings (4 sends at once, a poll every 2 s).
Items are resolved through the real API (a red reading, the nurse's resolve), so each
document is what a resolve writes into the outbox.

* **throughput**: ``--documents`` items resolved while no worker runs, then one worker
  started: documents sent per second, from the first delivery to the last (the
  worker's start-up is not counted), with ``--patients`` patients (a patient's
  documents go one after the other).
* **lag**: with the worker running, ``--lag-documents`` items resolved at ``--rate``
  per second; from the resolve's commit to the receiver's answer (``sent_at -
  created_at``), p50 and p99. At this pace the poll interval is most of it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench.scratch import scratch_database
from service.app import create_app
from service.journal import repository
from service.models_base import utcnow
from service.settings import Settings
from tests.factories import create_centre, enrol, set_care_plan
from tests.journal.harness import Receiver, journal_to, red_item_resolved

DEFAULT_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432"
DHO = str(Path(sys.executable).parent / "dho")


async def _with_database(server: str, args: argparse.Namespace) -> None:
    async with scratch_database(server, "dho_bench_journal") as url:
        with tempfile.TemporaryDirectory() as var:
            receiver = Receiver(Path(var))
            await asyncio.to_thread(receiver.start)
            try:
                await _measure(url, Path(var), receiver, args)
            finally:
                receiver.stop()


def _worker(settings: Settings) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DHO_DATABASE_URL": settings.database_url,
        "DHO_VAR_DIR": str(settings.var_dir),
        "DHO_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen([DHO, "worker"], env=env, stdout=subprocess.DEVNULL)


def _stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=60)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


async def _messages(engine: Any) -> list[Any]:
    message = repository.message
    query = sa.select(message.c.state, message.c.created_at, message.c.sent_at)
    async with engine.connect() as conn:
        return list((await conn.execute(query)).all())


async def _until_sent(engine: Any, worker: subprocess.Popen[bytes]) -> list[Any]:
    """Every message of the outbox, once all are sent."""
    deadline = time.monotonic() + 600
    while True:
        rows = await _messages(engine)
        if all(r.state == "sent" for r in rows):
            return rows
        if worker.poll() is not None:
            raise RuntimeError(f"dho worker ended (status {worker.returncode})")
        if time.monotonic() > deadline:
            states = sorted({r.state for r in rows})
            raise RuntimeError(f"not all sent within 10 minutes (states {states})")
        await asyncio.sleep(0.2)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


async def _measure(url: str, var: Path, receiver: Receiver, args: argparse.Namespace) -> None:
    settings = Settings(database_url=url, var_dir=var, jobs_in_process=False, log_level="WARNING")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        engine = app.state.dho.engine
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dho.test") as client:
            centre = await create_centre(app, settings)
            await journal_to(client, centre, receiver.url, timeout_seconds=10.0)
            patients = [await enrol(client, settings, centre) for _ in range(args.patients)]
            for patient in patients:
                await set_care_plan(client, patient, "heart_failure")

            started = time.perf_counter()
            for n in range(args.documents):
                await red_item_resolved(client, patients[n % len(patients)])
            setup = time.perf_counter() - started
            print(f"setup: {args.documents} items resolved into the outbox in {setup:.0f} s")
            worker = _worker(settings)
            try:
                rows = await _until_sent(engine, worker)
                sent = sorted(r.sent_at for r in rows)
                window = (sent[-1] - sent[0]).total_seconds()
                rate = (len(sent) - 1) / window if window > 0 else float("inf")

                lag_from = utcnow()
                for n in range(args.lag_documents):
                    tick = time.perf_counter()
                    await red_item_resolved(client, patients[n % len(patients)])
                    await asyncio.sleep(max(0.0, 1 / args.rate - (time.perf_counter() - tick)))
                rows = await _until_sent(engine, worker)
            finally:
                _stop(worker)
    lags = [(r.sent_at - r.created_at).total_seconds() for r in rows if r.created_at >= lag_from]
    stats = receiver.stats()
    stored = len(receiver.received())
    total = len(rows)
    print(
        f"journal outbox: {rate:,.0f} documents/s from 1 dho worker (4 sends at once) to a "
        f"local receiver, {len(sent)} documents of {args.patients} patients"
    )
    print(
        f"journal lag, resolve to delivery: p50 {statistics.median(lags):.2f} s, "
        f"p99 {_percentile(lags, 0.99):.2f} s over {len(lags)} resolves at "
        f"{args.rate:g}/s (the worker polls every {settings.journal_poll_seconds:g} s)"
    )
    verdict = "ok" if stored == total and stats["duplicates"] == 0 else "MISMATCH"
    print(
        f"journal check: {stored} of {total} documents stored once, "
        f"{stats['posts']} POSTs, {stats['duplicates']} resends ({verdict})"
    )
    if verdict != "ok":
        raise SystemExit(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.journal", description=__doc__)
    parser.add_argument("--documents", type=int, default=300)
    parser.add_argument("--patients", type=int, default=40)
    parser.add_argument("--lag-documents", type=int, default=60)
    parser.add_argument("--rate", type=float, default=5.0, help="resolves per second (lag)")
    parser.add_argument("--quick", action="store_true", help="100 documents, 40 for the lag")
    args = parser.parse_args(argv)
    if args.quick:
        args.documents, args.lag_documents = 100, 40
    server = os.environ.get("DHO_BENCH_DATABASE_URL", DEFAULT_SERVER)
    asyncio.run(_with_database(server, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
