"""``kill -9`` of a real ``dho worker`` in the middle of a send, and a new worker after
it: nothing lost, nothing doubled, each patient's notes in order.

The receiver takes its time over each document (``hang``: it has read the document,
and stores it a moment later), so the worker is killed with POSTs in flight and their
messages ``sending`` in the database. The record stores those documents anyway, and the
dead worker never learns it. The new worker takes them over when their lease ends (a
few seconds here, ``DHO_JOURNAL_LEASE_SECONDS``; five minutes by default) and sends
them again: the record knows the ``Bundle.identifier`` and keeps one.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from service.settings import Settings
from tests.conftest import Database
from tests.factories import create_centre, enrol, set_care_plan
from tests.journal.harness import Receiver, journal_to, messages_of, red_item_resolved
from tests.journal.own_database import DHO, dho_env, own_app, own_database

PATIENTS = 4
ROUNDS = 3
HANG_SECONDS = 2.0  # the record's slow read: less than the send's timeout
SEND_TIMEOUT = 6.0
LEASE_SECONDS = "4"


def start_worker(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    env = dho_env(
        settings,
        DHO_LOG_LEVEL="INFO",
        DHO_JOURNAL_LEASE_SECONDS=LEASE_SECONDS,
        DHO_JOURNAL_POLL_SECONDS="0.2",
        DHO_JOURNAL_BACKOFF_SECONDS="0.2",
        DHO_JOURNAL_BACKOFF_MAX_SECONDS="1",
    )
    with log.open("ab") as out:
        return subprocess.Popen([DHO, "worker"], env=env, stdout=out, stderr=out)


def stop(worker: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if worker.poll() is None:
        worker.send_signal(sig)
    worker.wait(timeout=60)


async def _until(check: Any, what: str, worker: subprocess.Popen[bytes], log: Path) -> Any:
    """Poll ``check`` (async, truthy when done) for up to two minutes."""
    deadline = time.monotonic() + 120
    while True:
        found = await check()
        if found:
            return found
        assert worker.poll() is None, (await asyncio.to_thread(log.read_text))[-3000:]
        assert time.monotonic() < deadline, f"{what}: not within two minutes"
        await asyncio.sleep(0.05)


async def test_kill_9_mid_send_then_a_new_worker_sends_each_document_once_in_order(
    database: Database, tmp_path: Path, fresh_receiver: Receiver
) -> None:
    if database.kind != "postgres":
        pytest.skip(
            "dho worker as a process of its own is the PostgreSQL deployment; on SQLite "
            "the sender runs inside dho serve (test_outbox covers it)"
        )
    async with own_database(database, tmp_path) as url:
        settings = Settings(
            database_url=url, var_dir=tmp_path / "var", db_pool_size=5, jobs_in_process=False
        )
        async with own_app(settings) as (app, client):
            centre = await create_centre(app, settings)
            await journal_to(client, centre, fresh_receiver.url, timeout_seconds=SEND_TIMEOUT)
            patients = [await enrol(client, settings, centre) for _ in range(PATIENTS)]
            for patient in patients:
                await set_care_plan(client, patient, "heart_failure")
            for _ in range(ROUNDS):
                for patient in patients:
                    await red_item_resolved(client, patient)
            made = await messages_of(app, centre.id)
            assert len([m for m in made if m.item_id is not None]) == PATIENTS * ROUNDS

            fresh_receiver.mode("hang", hang_seconds=HANG_SECONDS)
            posts = fresh_receiver.stats()["posts"]
            log = tmp_path / "worker.log"
            first = start_worker(settings, log)
            try:

                async def posted() -> bool:
                    return fresh_receiver.stats()["posts"] > posts

                await _until(posted, "the first POST", first, log)
                stop(first, signal.SIGKILL)  # the record is still reading
            finally:
                stop(first, signal.SIGKILL)
            assert first.returncode == -signal.SIGKILL
            in_flight = [m for m in await messages_of(app, centre.id) if m.state == "sending"]
            assert in_flight, "the worker was killed with nothing in flight"
            fresh_receiver.mode("ok")

            second = start_worker(settings, log)
            try:

                async def all_sent() -> list[Any] | None:
                    messages = await messages_of(app, centre.id)
                    return messages if all(m.state == "sent" for m in messages) else None

                messages = await _until(all_sent, "every message sent", second, log)
            finally:
                stop(second, signal.SIGTERM)
            assert second.returncode == 0, log.read_text()[-3000:]

    ours = {m.bundle_identifier: m for m in messages}
    stored = [r for r in fresh_receiver.received() if r["identifier"] in ours]
    # Exactly once: every document stored, none twice.
    assert sorted(r["identifier"] for r in stored) == sorted(ours)
    # Those in flight at the kill were sent again by the second worker.
    attempts = {m.id: m.attempts for m in messages}
    assert all(attempts[m.id] >= 2 for m in in_flight)
    assert fresh_receiver.stats()["posts"] - posts >= len(ours) + len(in_flight)
    # In order per patient: the record got each patient's notes as they were made.
    numbers = {p.id: p.identity_number for p in patients}
    made_order: dict[str, list[str]] = defaultdict(list)
    for m in made:
        made_order[numbers[m.patient_id]].append(m.bundle_identifier)
    arrived: dict[str, list[str]] = defaultdict(list)
    for record in stored:
        arrived[record["patient"]].append(record["identifier"])
    assert arrived == made_order
    assert "Traceback" not in log.read_text()
    print(  # what happened, for whoever reads the run (pytest -s)
        f"\nkill -9: {len(in_flight)} in flight at the kill, {len(ours)} documents, "
        f"{fresh_receiver.stats()['duplicates']} resends the record recognised"
    )
