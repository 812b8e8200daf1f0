"""The outbox: a resolve queues the note for the patient's record in its own
transaction, without the identity number, and the worker delivers it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from joserfc.jwk import RSAKey

from service.journal import keys
from service.journal import sender as journal_sender
from service.journal.models import JournalState
from tests.factories import auth, create_centre, enrol, observation, set_care_plan
from tests.journal.harness import Receiver, fast, journal_to, messages_of, red_item_resolved


async def _patient(client: httpx.AsyncClient, app: Any, settings: Any) -> Any:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "heart_failure")
    return centre, patient


async def test_a_resolved_item_reaches_the_record_once_with_the_identity_number(
    client: httpx.AsyncClient, app: Any, settings: Any, fresh_receiver: Receiver
) -> None:
    centre, patient = await _patient(client, app, settings)
    await journal_to(client, centre, fresh_receiver.url)
    item_id = await red_item_resolved(client, patient, note="Ringte pasienten <ok>.")

    [queued] = await messages_of(app, centre.id)
    assert (queued.item_id, queued.state, queued.attempts) == (item_id, "pending", 0)
    # The outbox holds no identity number: the sender adds it from the patient table.
    assert patient.identity_number not in orjson.dumps(queued.document).decode()
    assert queued.document["identifier"]["value"] == queued.bundle_identifier

    nurse = auth(centre.nurse_token)
    item = (await client.get(f"/api/queue/{item_id}", headers=nurse)).json()
    assert item["journal"]["state"] == "pending"

    tries = await journal_sender.send_due(app.state.dho.engine, fast(settings), app.state.dho.vault)
    assert tries == 1
    [sent] = await messages_of(app, centre.id)
    assert (sent.state, sent.attempts, sent.last_status) == ("sent", 1, 201)
    stored = [r for r in fresh_receiver.received() if r["identifier"] == sent.bundle_identifier]
    assert len(stored) == 1
    assert stored[0]["patient"] == patient.identity_number
    assert stored[0]["issues"] == ["1.1"]
    assert stored[0]["observations"] == 1
    assert stored[0]["sections"] == [
        "reason",
        "response_summary",
        "response_elaboration",
        "signature",
    ]
    item = (await client.get(f"/api/queue/{item_id}", headers=nurse)).json()
    assert item["journal"]["state"] == "sent"


async def test_a_centre_without_a_receiver_journals_nothing_and_red_only_skips_yellow(
    client: httpx.AsyncClient, app: Any, settings: Any, fresh_receiver: Receiver
) -> None:
    centre, patient = await _patient(client, app, settings)
    await red_item_resolved(client, patient)
    assert await messages_of(app, centre.id) == []

    await journal_to(client, centre, fresh_receiver.url, items="red")
    now = datetime.now(UTC)
    fast_pulse = [
        observation(patient.id, "8867-4", 110, effective=now - timedelta(minutes=m))
        for m in (30, 20, 10)
    ]
    await red_item_resolved(client, patient, readings=fast_pulse)  # yellow, by three
    assert await messages_of(app, centre.id) == []
    await red_item_resolved(client, patient)
    assert [m.state for m in await messages_of(app, centre.id)] == ["pending"]
    nurse = auth(centre.nurse_token)
    config = await client.get(f"/api/centres/{centre.id}/journal-config", headers=nurse)
    assert config.status_code == 403


async def test_the_in_process_loop_sends_on_its_own(
    client: httpx.AsyncClient, app: Any, settings: Any, fresh_receiver: Receiver
) -> None:
    """What ``dho serve`` runs on the SQLite default, and ``dho worker`` everywhere."""
    centre, patient = await _patient(client, app, settings)
    await journal_to(client, centre, fresh_receiver.url)
    await red_item_resolved(client, patient)
    stop = asyncio.Event()
    loop = asyncio.create_task(
        journal_sender.run_loop(app.state.dho.engine, fast(settings), app.state.dho.vault, stop)
    )
    try:
        for _ in range(200):
            if [m.state for m in await messages_of(app, centre.id)] == [JournalState.sent]:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await loop
    assert [m.state for m in await messages_of(app, centre.id)] == ["sent"]


async def test_the_sender_gets_a_token_by_private_key_jwt_before_it_sends(
    client: httpx.AsyncClient,
    app: Any,
    settings: Any,
    fresh_receiver: Receiver,
) -> None:
    """OAuth2 client credentials with a signed assertion (HelseID's way), through
    authlib, against the receiver's own token endpoint; the key stays in its file."""
    key = RSAKey.generate_key(2048)
    folder = keys.key_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    private = folder / "journal-client.pem"
    private.write_bytes(key.as_pem(private=True))
    public = key.as_pem(private=False).decode()
    fresh_receiver.mode("ok", public_key=public, client_id="dho-journal")
    centre, patient = await _patient(client, app, settings)
    token_url = fresh_receiver.url.replace("/fhir/Bundle", "/token")
    await journal_to(
        client,
        centre,
        fresh_receiver.url,
        token_url=token_url,
        client_id="dho-journal",
        private_key_path=private.name,
    )
    await red_item_resolved(client, patient)
    await red_item_resolved(client, patient)
    tokens = fresh_receiver.stats().get("tokens", 0)
    await journal_sender.send_due(app.state.dho.engine, fast(settings), app.state.dho.vault)
    assert [m.state for m in await messages_of(app, centre.id)] == ["sent", "sent"]
    # One token for both (send_due's sender keeps it until shortly before it expires).
    assert fresh_receiver.stats()["tokens"] == tokens + 1

    # Another client's key: the token endpoint refuses, the message waits and says why.
    fresh_receiver.mode("ok", public_key=public, client_id="someone-else")
    await red_item_resolved(client, patient)
    await journal_sender.send_due(app.state.dho.engine, fast(settings), app.state.dho.vault)
    last = (await messages_of(app, centre.id))[-1]
    assert last.state == "failed"
    assert last.last_error == "token endpoint: OAuthError"


async def test_a_private_key_outside_the_operators_key_folder_is_refused(
    client: httpx.AsyncClient, app: Any, settings: Any, tmp_path: Path
) -> None:
    """A centre's admin names its key, but the worker reads it: a path that leaves the
    operator's key folder (another file on the server) is refused and nothing stored."""
    centre, _ = await _patient(client, app, settings)
    outside = tmp_path / "elsewhere.pem"
    outside.write_text("not a key for the journal")
    for path in (str(outside), "../" * 8 + "etc/passwd", "../journal-keys-other/x.pem"):
        body = {
            "enabled": True,
            "receiver_url": "https://epj.example.no/fhir/Bundle",
            "token_url": "https://helseid.example.no/connect/token",
            "client_id": "dho-journal",
            "private_key_path": path,
        }
        response = await client.put(
            f"/api/centres/{centre.id}/journal-config",
            json=body,
            headers=auth(centre.admin_token),
        )
        assert response.status_code == 422, (path, response.text)
        assert "private_key_path" in response.text
    stored = await client.get(
        f"/api/centres/{centre.id}/journal-config", headers=auth(centre.admin_token)
    )
    assert stored.status_code == 404  # nothing was stored


async def test_the_operator_fences_where_the_journal_may_send(
    client: httpx.AsyncClient, app: Any, settings: Any, fresh_receiver: Receiver
) -> None:
    """With DHO_JOURNAL_RECEIVER_HOSTS set, a receiver elsewhere is refused when an admin
    sets it, and a message to a host taken off the list waits, saying why, until the
    operator allows it again."""
    centre, patient = await _patient(client, app, settings)
    state = app.state.dho
    fenced = settings.model_copy(update={"journal_receiver_hosts": "epj.example.no"})
    state.settings = fenced
    try:
        for url in ("http://169.254.169.254/latest", "http://127.0.0.1:5432/fhir/Bundle"):
            body = {"enabled": True, "receiver_url": url}
            response = await client.put(
                f"/api/centres/{centre.id}/journal-config",
                json=body,
                headers=auth(centre.admin_token),
            )
            assert response.status_code == 422, (url, response.text)
            assert "receiver_url" in response.text
    finally:
        state.settings = settings
    await journal_to(client, centre, fresh_receiver.url)  # allowed while the list is unset
    await red_item_resolved(client, patient)
    before = len(fresh_receiver.received())
    await journal_sender.send_due(state.engine, fast(fenced), state.vault)
    [waiting] = await messages_of(app, centre.id)
    assert waiting.state == "failed"
    assert waiting.last_error == "the receiver's host is not one the operator allows"
    assert len(fresh_receiver.received()) == before  # nothing went out
    allowed = fast(settings, journal_receiver_hosts="epj.example.no, 127.0.0.1")
    for _ in range(20):  # its backoff is tenths of a second in this test
        await journal_sender.send_due(state.engine, allowed, state.vault)
        if (await messages_of(app, centre.id))[0].state == "sent":
            break
        await asyncio.sleep(0.1)
    assert [m.state for m in await messages_of(app, centre.id)] == ["sent"]
    assert len(fresh_receiver.received()) == before + 1
