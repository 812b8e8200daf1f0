"""Journalling: what the resolve writes into the outbox, and what operators do with it.

``record_resolution`` runs inside the resolve's transaction: the item is closed and its
document queued together, or neither. Sending is ``service.journal.sender``'s, in the
worker; nothing here waits for a receiver.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal
from service.centres import repository as centres
from service.errors import ApiError, Conflict, NotFound, Unprocessable
from service.journal import document, egress, keys, repository
from service.journal.models import JournalItems, JournalKind, JournalState, journals
from service.journal.schemas import (
    ItemJournal,
    JournalConfigRead,
    JournalConfigWrite,
    JournalMessageRead,
    JournalPage,
)
from service.queue import repository as queue_repository
from service.settings import Settings

RETRYABLE = (JournalState.failed.value, JournalState.dead.value)
CANCELLABLE = (JournalState.pending.value, JournalState.failed.value, JournalState.dead.value)


def wanted(items: str, item: Row[Any]) -> bool:
    """Whether a centre journalling ``items`` wants this resolved item."""
    if items == JournalItems.red.value:
        return bool(item.severity == "red")
    if items == JournalItems.clinical.value:
        return not item.technical
    return True


async def record_resolution(
    conn: AsyncConnection, principal: Principal, item: Row[Any], now: datetime
) -> str | None:
    """Queue the document of a just-resolved item, if its centre journals it. Answers
    the message's id, or None."""
    settings = await repository.config_of(conn, item.centre_id)
    if not journals(settings, JournalKind.item_resolved) or not wanted(settings.items, item):
        return None
    found = (await queue_repository.findings_of_items(conn, [item.id])).get(item.id, [])
    reading_ids = sorted({r for f in found if f.withdrawn_at is None for r in f.reading_ids or []})
    readings = await repository.observations(conn, reading_ids)
    patient = await repository.patient_row(conn, item.patient_id)
    centre = await repository.centre_row(conn, item.centre_id)
    # Foreign keys of the item: both exist.
    assert patient is not None
    assert centre is not None
    identifier = document.new_identifier()
    local = now.astimezone(ZoneInfo(centre.time_zone)).strftime("%d.%m.%Y %H:%M")
    body = document.build(
        bundle_identifier=identifier,
        item=item,
        findings=found,
        observations=readings,
        patient=patient,
        centre=centre,
        resolver=principal.subject,
        local_time=local,
    )
    # Ordered by when the row is written, as the pathway's notes are: a resolve dated
    # back (the demo's) must not overtake the patient's earlier notes.
    return await repository.enqueue(
        conn,
        centre_id=item.centre_id,
        patient_id=item.patient_id,
        item_id=item.id,
        kind=JournalKind.item_resolved.value,
        bundle_identifier=identifier,
        document=body,
    )


async def list_messages(
    conn: AsyncConnection,
    principal: Principal,
    states: Sequence[str],
    centre_id: str | None,
    limit: int,
) -> JournalPage:
    rows = await repository.list_visible(conn, principal, states, centre_id, limit + 1)
    return JournalPage(
        items=[JournalMessageRead.model_validate(r) for r in rows[:limit]],
        truncated=len(rows) > limit,
    )


async def retry(
    conn: AsyncConnection, principal: Principal, message_id: str, now: datetime
) -> JournalMessageRead:
    """Send a failed or dead message again now, with a fresh budget of attempts."""
    values = {
        "state": JournalState.pending.value,
        "attempts": 0,
        "next_attempt_at": now,
        "updated_at": now,
    }
    return await _move(conn, principal, message_id, RETRYABLE, values, "retried")


async def cancel(
    conn: AsyncConnection, principal: Principal, message_id: str, now: datetime
) -> JournalMessageRead:
    """Never send it (the record got the note another way): the patient's later
    messages no longer wait for it."""
    values = {"state": JournalState.cancelled.value, "updated_at": now}
    return await _move(conn, principal, message_id, CANCELLABLE, values, "cancelled")


async def _move(
    conn: AsyncConnection,
    principal: Principal,
    message_id: str,
    from_states: Sequence[str],
    values: dict[str, Any],
    verb: str,
) -> JournalMessageRead:
    moved = await repository.move_visible(conn, principal, message_id, from_states, values)
    if moved is not None:
        return JournalMessageRead.model_validate(moved)
    current = await repository.get_visible(conn, principal, message_id)
    if current is None:
        raise NotFound("no such journal message")
    raise Conflict(f"the message is {current.state}; it cannot be {verb}")


async def item_journals(conn: AsyncConnection, item_ids: Sequence[str]) -> dict[str, ItemJournal]:
    rows = await repository.states_of_items(conn, item_ids)
    return {item_id: ItemJournal.model_validate(row) for item_id, row in rows.items()}


async def read_config(
    conn: AsyncConnection, principal: Principal, centre_id: str
) -> JournalConfigRead:
    if not await centres.exists_managed(conn, principal, centre_id):
        raise NotFound("no such centre")
    row = await repository.config_of(conn, centre_id)
    if row is None:
        raise NotFound("the centre has no journal receiver configured")
    return JournalConfigRead.model_validate(row)


async def write_config(
    conn: AsyncConnection,
    principal: Principal,
    centre_id: str,
    body: JournalConfigWrite,
    now: datetime,
    settings: Settings,
) -> JournalConfigRead:
    if not await centres.exists_managed(conn, principal, centre_id):
        raise NotFound("no such centre")
    for field, url in (("receiver_url", body.receiver_url), ("token_url", body.token_url)):
        if url is not None and not egress.allowed(settings, str(url)):
            raise Unprocessable(
                f"{field}: its host is not one the operator allows (DHO_JOURNAL_RECEIVER_HOSTS)"
            )
    if body.private_key_path is not None and keys.key_file(settings, body.private_key_path) is None:
        raise Unprocessable(
            "private_key_path: must name a file in the operator's key folder (DHO_JOURNAL_KEY_DIR)"
        )
    if body.token_url is not None and (body.client_id is None or body.private_key_path is None):
        raise ApiError("token_url: needs client_id and private_key_path (private_key_jwt)")
    values = {**body.model_dump(mode="json"), "updated_at": now, "updated_by": principal.subject}
    await repository.set_config(conn, centre_id, values)
    return await read_config(conn, principal, centre_id)
