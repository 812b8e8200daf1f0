"""A receiver that fails in every way a network and a record can: the message is kept,
retried with backoff, never stored twice, and dead-lettered where trying again cannot
help; an admin sees it, retries it or cancels it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from service.journal import repository
from tests.factories import auth, create_centre, enrol, set_care_plan
from tests.journal.harness import (
    Receiver,
    fast,
    journal_to,
    messages_of,
    red_item_resolved,
    sender,
)


async def _journalled_patient(
    client: httpx.AsyncClient, app: Any, settings: Any, receiver: Receiver, **config: Any
) -> Any:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "heart_failure")
    await journal_to(client, centre, receiver.url, **config)
    return centre, patient


async def _until_settled(app: Any, settings: Any, centre_id: str, rounds: int = 100) -> list[Any]:
    """Send until no message of the centre is pending or failed (backoff is tenths of
    seconds here); answers the messages."""
    async with httpx.AsyncClient() as http:
        worker = sender(app, settings, http)
        for _ in range(rounds):
            await worker.send_due()
            messages = await messages_of(app, centre_id)
            if all(m.state not in ("pending", "failed", "sending") for m in messages):
                return messages
            await asyncio.sleep(0.05)
    return await messages_of(app, centre_id)


def _stored(receiver: Receiver, identifier: str) -> int:
    return sum(1 for r in receiver.received() if r["identifier"] == identifier)


async def test_a_hanging_receiver_is_given_up_on_then_sent_to_once(
    client: httpx.AsyncClient, app: Any, settings: Any, fresh_receiver: Receiver
) -> None:
    centre, patient = await _journalled_patient(
        client, app, settings, fresh_receiver, timeout_seconds=0.3
    )
    await red_item_resolved(client, patient)
    fresh_receiver.mode("hang", hang_seconds=2)
    async with httpx.AsyncClient() as http:
        assert await sender(app, fast(settings), http).step()
    [failed] = await messages_of(app, centre.id)
    assert failed.state == "failed"
    assert failed.last_error == "no answer within 0.3 s"
    assert failed.next_attempt_at > failed.updated_at

    fresh_receiver.mode("ok")
    [sent] = await _until_settled(app, fast(settings), centre.id)
    assert (sent.state, sent.attempts) == ("sent", 2)
    await asyncio.sleep(2)  # the hung call ends, and stores the same document again
    assert _stored(fresh_receiver, sent.bundle_identifier) == 1


async def test_a_connection_dropped_after_the_store_is_resent_and_stored_once(
    client: httpx.AsyncClient, app: Any, settings: Any, fresh_receiver: Receiver
) -> None:
    centre, patient = await _journalled_patient(client, app, settings, fresh_receiver)
    await red_item_resolved(client, patient)
    fresh_receiver.mode("close")
    duplicates = fresh_receiver.stats()["duplicates"]
    async with httpx.AsyncClient() as http:
        assert await sender(app, fast(settings), http).step()
    [failed] = await messages_of(app, centre.id)
    assert failed.state == "failed"
    assert failed.last_error.startswith("connection failed (")
    assert _stored(fresh_receiver, failed.bundle_identifier) == 1  # it did arrive

    fresh_receiver.mode("ok")
    [sent] = await _until_settled(app, fast(settings), centre.id)
    assert sent.state == "sent"
    assert _stored(fresh_receiver, sent.bundle_identifier) == 1
    assert fresh_receiver.stats()["duplicates"] == duplicates + 1


async def test_a_refused_document_is_dead_lettered_and_holds_back_the_patients_next(
    client: httpx.AsyncClient, app: Any, settings: Any, fresh_receiver: Receiver
) -> None:
    centre, patient = await _journalled_patient(client, app, settings, fresh_receiver)
    fresh_receiver.mode("ok", reject=[patient.identity_number])
    await red_item_resolved(client, patient)
    await red_item_resolved(client, patient)
    first, second = await _until_settled(app, fast(settings), centre.id)
    assert (first.state, first.attempts, first.last_status) == ("dead", 1, 422)
    assert first.last_error == (
        "HTTP 422: error business-rule: the patient is unknown here (Patient.identifier)"
    )
    # Per-patient order: the second waits behind the dead one, untried.
    assert (second.state, second.attempts) == ("pending", 0)

    admin = auth(centre.admin_token)
    listed = await client.get("/api/journal", params={"state": "dead"}, headers=admin)
    assert listed.status_code == 200, listed.text
    assert [m["id"] for m in listed.json()["items"]] == [first.id]
    assert listed.json()["items"][0]["last_error"] == first.last_error
    nurse = auth(centre.nurse_token)
    assert (await client.get("/api/journal", headers=nurse)).status_code == 403
    other = await create_centre(app, settings)
    retried = await client.post(f"/api/journal/{first.id}/retry", headers=auth(other.admin_token))
    assert retried.status_code == 404

    fresh_receiver.mode("ok", reject=[])
    retried = await client.post(f"/api/journal/{first.id}/retry", headers=admin)
    assert retried.status_code == 200, retried.text
    assert (retried.json()["state"], retried.json()["attempts"]) == ("pending", 0)
    first, second = await _until_settled(app, fast(settings), centre.id)
    assert (first.state, second.state) == ("sent", "sent")
    stored = [r["identifier"] for r in fresh_receiver.received()]
    assert stored.index(first.bundle_identifier) < stored.index(second.bundle_identifier)
    again = await client.post(f"/api/journal/{first.id}/retry", headers=admin)
    assert again.status_code == 409

    async with app.state.dho.engine.connect() as conn:
        audit = (
            await conn.execute(
                sa.text(
                    "SELECT subtype FROM audit_event WHERE resource_id = :id "
                    "AND resource_type = 'Composition'"
                ),
                {"id": first.id},
            )
        ).all()
    assert [row.subtype for row in audit] == ["journal-retry"]


async def test_a_cancelled_message_is_never_sent_and_no_longer_holds_back(
    client: httpx.AsyncClient, app: Any, settings: Any, fresh_receiver: Receiver
) -> None:
    centre, patient = await _journalled_patient(client, app, settings, fresh_receiver)
    fresh_receiver.mode("ok", reject=[patient.identity_number])
    await red_item_resolved(client, patient)
    [dead] = await _until_settled(app, fast(settings), centre.id)
    fresh_receiver.mode("ok", reject=[])
    await red_item_resolved(client, patient)
    admin = auth(centre.admin_token)
    cancelled = await client.post(f"/api/journal/{dead.id}/cancel", headers=admin)
    assert cancelled.json()["state"] == "cancelled"
    first, second = await _until_settled(app, fast(settings), centre.id)
    assert (first.state, second.state) == ("cancelled", "sent")
    assert _stored(fresh_receiver, first.bundle_identifier) == 0


async def test_a_receiver_down_dead_letters_after_the_attempts_then_a_retry_sends(
    client: httpx.AsyncClient, app: Any, settings: Any, fresh_receiver: Receiver
) -> None:
    centre, patient = await _journalled_patient(client, app, settings, fresh_receiver)
    await red_item_resolved(client, patient)
    fresh_receiver.stop()
    try:
        [dead] = await _until_settled(app, fast(settings, journal_max_attempts=3), centre.id)
    finally:
        await asyncio.to_thread(fresh_receiver.start)
    assert (dead.state, dead.attempts) == ("dead", 3)
    assert dead.last_error == "gave up after 3 attempts: connection failed (ConnectError)"

    admin = auth(centre.admin_token)
    assert (await client.post(f"/api/journal/{dead.id}/retry", headers=admin)).status_code == 200
    [sent] = await _until_settled(app, fast(settings), centre.id)
    assert sent.state == "sent"
    assert _stored(fresh_receiver, sent.bundle_identifier) == 1


async def test_a_document_that_does_not_validate_is_never_sent(
    client: httpx.AsyncClient, app: Any, settings: Any, fresh_receiver: Receiver
) -> None:
    centre, patient = await _journalled_patient(client, app, settings, fresh_receiver)
    await red_item_resolved(client, patient)
    [queued] = await messages_of(app, centre.id)
    broken = {**queued.document}
    broken["entry"] = [{"resource": {"resourceType": "Composition", "mood": "bad"}}]
    message = repository.message
    async with app.state.dho.engine.begin() as conn:
        await conn.execute(
            sa.update(message).where(message.c.id == queued.id).values(document=broken)
        )
    posts = fresh_receiver.stats()["posts"]
    [dead] = await _until_settled(app, fast(settings), centre.id)
    assert dead.state == "dead"
    # The elements are named, never their values.
    assert dead.last_error == (
        "not sent, invalid: Bundle.entry[0].resource.author: missing; "
        "Bundle.entry[0].resource.type: missing; "
        "Bundle.entry[0].resource.mood: extra_forbidden"
    )
    assert fresh_receiver.stats()["posts"] == posts


async def test_a_worker_that_died_mid_send_is_taken_over_and_the_document_stored_once(
    client: httpx.AsyncClient, app: Any, settings: Any, fresh_receiver: Receiver
) -> None:
    """A stand-in for ``kill -9`` in the middle of a send: the dead worker claimed the
    message and the record stored it, but no outcome was written. When its lease ends,
    another worker sends it again; the record keeps one; the dead worker's late word,
    should it come, changes nothing."""
    centre, patient = await _journalled_patient(client, app, settings, fresh_receiver)
    await red_item_resolved(client, patient)
    now = datetime.now(UTC)
    async with app.state.dho.engine.begin() as conn:
        claimed = await repository.claim(conn, now, now - timedelta(seconds=1))  # lease over
        config = await repository.config_of(conn, centre.id)
        row = await repository.patient_row(conn, patient.id)
    assert claimed is not None
    async with httpx.AsyncClient() as http:
        dead_worker = sender(app, fast(settings), http)
        assert (await dead_worker._deliver(claimed, config, row)).state == "sent"
        [sending] = await messages_of(app, centre.id)
        assert (sending.state, sending.attempts) == ("sending", 1)

        assert await sender(app, fast(settings), http).step()
    [sent] = await messages_of(app, centre.id)
    assert (sent.state, sent.attempts) == ("sent", 2)
    assert _stored(fresh_receiver, sent.bundle_identifier) == 1
    async with app.state.dho.engine.begin() as conn:
        late = {"state": "failed", "last_error": "late"}
        assert not await repository.finish(conn, sent.id, claimed.attempts, late)
