"""The issue's scenario, on PostgreSQL with several workers: 200 items resolved while
the record refuses every other call and is down for a while. In the end each document
has arrived exactly once, and each patient's in the order they were resolved."""

from __future__ import annotations

import asyncio
import os
import time
from collections import defaultdict
from typing import Any

import httpx
import pytest

from service.database import create_engine
from service.journal import sender as journal_sender
from tests.conftest import Database
from tests.factories import create_centre, enrol, set_care_plan
from tests.journal.harness import Receiver, fast, journal_to, messages_of, red_item_resolved

PATIENTS = 20
ROUNDS = int(os.environ.get("DHO_JOURNAL_ROUNDS", "10"))  # 20 x 10 = 200 resolves
WORKERS = 3


async def test_200_resolves_through_a_flaky_receiver_arrive_once_each_in_order(
    client: httpx.AsyncClient,
    app: Any,
    settings: Any,
    database: Database,
    fresh_receiver: Receiver,
) -> None:
    if database.kind != "postgres":
        pytest.skip("several workers claiming with SKIP LOCKED: the PostgreSQL leg")
    centre = await create_centre(app, settings)
    # Resolved items only: the pathway's notes (enrolment, care plan) are test_notes'.
    await journal_to(
        client, centre, fresh_receiver.url, timeout_seconds=1.0, kinds=["item_resolved"]
    )
    patients = [await enrol(client, settings, centre) for _ in range(PATIENTS)]
    for patient in patients:
        await set_care_plan(client, patient, "heart_failure")
    fresh_receiver.mode("every_other")

    # Attempts enough for the receiver's time down: this test is about order and
    # doubles, not about giving up (test_failures does that).
    quick = fast(
        settings,
        journal_concurrency=4,
        journal_max_attempts=10_000,
        journal_backoff_max_seconds=0.5,
    )
    stop = asyncio.Event()
    engines = [create_engine(quick) for _ in range(WORKERS)]
    workers = [
        asyncio.create_task(journal_sender.run_loop(e, quick, app.state.dho.vault, stop))
        for e in engines
    ]
    started = time.monotonic()
    try:
        for round_ in range(ROUNDS):
            if round_ == ROUNDS // 3:
                fresh_receiver.stop()  # down for a while
            if round_ == 2 * ROUNDS // 3:
                await asyncio.to_thread(fresh_receiver.start)
                fresh_receiver.mode("every_other")
            for patient in patients:
                await red_item_resolved(client, patient)
        resolved = time.monotonic()
        for _ in range(1200):
            messages = await messages_of(app, centre.id)
            if all(m.state == "sent" for m in messages):
                break
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.gather(*workers)
        for engine in engines:
            await engine.dispose()
    drained = time.monotonic()

    messages = await messages_of(app, centre.id)
    assert len(messages) == PATIENTS * ROUNDS
    assert {m.state for m in messages} == {"sent"}
    ours = {m.bundle_identifier: m for m in messages}
    stored = [r for r in fresh_receiver.received() if r["identifier"] in ours]
    # Exactly once: every document stored, none twice.
    assert sorted(r["identifier"] for r in stored) == sorted(ours)
    # In order per patient: the record got each patient's notes as they were made.
    by_patient: dict[str, list[str]] = defaultdict(list)
    for record in stored:
        by_patient[record["patient"]].append(record["identifier"])
    made: dict[str, list[str]] = defaultdict(list)
    numbers = {p.id: p.identity_number for p in patients}
    for m in sorted(messages, key=lambda m: (m.created_at, m.id)):
        made[numbers[m.patient_id]].append(m.bundle_identifier)
    assert by_patient == made
    stats = fresh_receiver.stats()
    assert stats["refused"] > 0
    assert max(m.attempts for m in messages) > 1
    print(  # the figures for the closing note (pytest -s)
        f"\njournal: {len(messages)} documents, {WORKERS} workers, resolves took "
        f"{resolved - started:.1f} s, drained {drained - resolved:.1f} s after the last; "
        f"attempts {sum(m.attempts for m in messages)}, receiver refused {stats['refused']}"
    )
