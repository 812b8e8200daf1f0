"""The follow-up centre's queue: ``/api/queue``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.responses import StreamingResponse

from service.audit import service as audit
from service.auth.deps import OrganizationManager, OrganizationReader, QueueReader, QueueWorker
from service.auth.principal import Principal
from service.deps import Db, State
from service.models_base import utcnow
from service.queue import events
from service.queue import service as queue
from service.queue.schemas import (
    EscalateRequest,
    ItemEventRead,
    QueuePage,
    QueuePolicyRead,
    QueuePolicyWrite,
    QueueRow,
    ResolveRequest,
    SnoozeRequest,
)
from service.state import AppState

router = APIRouter(prefix="/api/queue", tags=["Triage queue"])

StateFilter = Literal["open", "claimed", "snoozed", "resolved"]


@router.get("")
async def list_queue(
    request: Request,
    principal: QueueReader,
    db: Db,
    state: State,
    item_state: Annotated[list[StateFilter] | None, Query(alias="state")] = None,
    severity: Literal["red", "yellow"] | None = None,
    assigned: Annotated[str | None, Query(max_length=200)] = None,
    protocol: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> QueuePage:
    """The centre's items, red before yellow, then longest waiting first.

    By default the unresolved ones (open and claimed; a snoozed item comes back when its
    time is up). ``assigned=me`` gives the items the caller has claimed.
    """
    page = await queue.list_queue(
        db,
        principal,
        utcnow(),
        state.local_zone,
        states=item_state or ["open", "claimed"],
        severity=severity,
        claimed_by=principal.subject if assigned == "me" else assigned,
        protocol=protocol,
        limit=limit,
    )
    touched = [(i.patient_id, i.centre_id) for i in page.items]
    await audit.record_search(db, principal, "Task", request.query_params.multi_items(), touched)
    return page


# Declared before "/{item_id}", which would take "events" for an item id.
@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Server-Sent Events: `id` the positions to resume from, `event` "
            "the kind, `data` an EventRead (no names, no measured values)",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        400: {"description": "a malformed Last-Event-ID"},
        403: {"description": "not staff of a follow-up centre"},
    },
)
async def event_stream(
    request: Request,
    principal: QueueReader,
    state: State,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """What happens to the items of the caller's centres, as it happens, written by
    any API process: created, raised, updated, reopened, back_in_range, claimed,
    released, resolved, snoozed, escalated.

    Each message's ``id`` is the position in every centre (``centre:seq,...``). Without
    ``Last-Event-ID`` the stream starts now; with it, right after that message. A
    ``: keep-alive`` comment comes every 15 seconds of silence.
    """
    return await events.open_stream(request, state.queue_events, principal, last_event_id)


@router.get("/{item_id}")
async def get_item(item_id: str, principal: QueueReader, db: Db, state: State) -> QueueRow:
    item = await queue.get_item(db, principal, item_id, utcnow(), state.local_zone)
    await _record(db, principal, audit.READ, "read", item)
    return item


@router.get("/{item_id}/history")
async def item_history(item_id: str, principal: QueueReader, db: Db) -> list[ItemEventRead]:
    events = await queue.history(db, principal, item_id)
    if events:
        await audit.record(
            db,
            principal,
            action=audit.READ,
            subtype="history-instance",
            resource_type="Task",
            resource_id=item_id,
            patient_id=events[0].patient_id,
            centre_id=events[0].centre_id,
        )
    return events


# The body of each error status is declared by service.openapi_contract.
_NOT_NOW: dict[int | str, dict[str, Any]] = {
    409: {"description": "the item's state does not allow this, or another nurse has it"}
}


@router.post("/{item_id}/claim", responses={409: {"description": "claimed by another nurse"}})
async def claim(item_id: str, principal: QueueWorker, db: Db, state: State) -> QueueRow:
    """Take the item. Exactly one of several nurses claiming at once wins; the others
    get 409 naming who has it."""
    now = utcnow()
    await queue.claim(db, principal, item_id, now)
    return await _changed(db, principal, state, item_id, now, "claim")


@router.post("/{item_id}/release", responses=_NOT_NOW)
async def release(item_id: str, principal: QueueWorker, db: Db, state: State) -> QueueRow:
    now = utcnow()
    await queue.release(db, principal, item_id, now)
    return await _changed(db, principal, state, item_id, now, "release")


@router.post("/{item_id}/resolve", responses=_NOT_NOW)
async def resolve(
    item_id: str, body: ResolveRequest, principal: QueueWorker, db: Db, state: State
) -> QueueRow:
    now = utcnow()
    await queue.resolve(db, principal, item_id, body, now)
    return await _changed(db, principal, state, item_id, now, "resolve")


@router.post("/{item_id}/snooze", responses=_NOT_NOW)
async def snooze(
    item_id: str, body: SnoozeRequest, principal: QueueWorker, db: Db, state: State
) -> QueueRow:
    now = utcnow()
    await queue.snooze(db, principal, item_id, body, now)
    return await _changed(db, principal, state, item_id, now, "snooze")


@router.post("/{item_id}/escalate", responses=_NOT_NOW)
async def escalate(
    item_id: str, body: EscalateRequest, principal: QueueWorker, db: Db, state: State
) -> QueueRow:
    now = utcnow()
    await queue.escalate(db, principal, item_id, body, now)
    return await _changed(db, principal, state, item_id, now, "escalate")


policy_router = APIRouter(prefix="/api/centres/{centre_id}/queue-policy", tags=["Triage queue"])


@policy_router.get("")
async def read_policy(centre_id: str, principal: OrganizationReader, db: Db) -> QueuePolicyRead:
    """The centre's service levels: how soon a red item must be claimed, and resolved."""
    return await queue.read_policy(db, principal, centre_id)


@policy_router.put("")
async def write_policy(
    centre_id: str, body: QueuePolicyWrite, principal: OrganizationManager, db: Db
) -> QueuePolicyRead:
    return await queue.write_policy(db, principal, centre_id, body)


async def _changed(
    db: AsyncConnection,
    principal: Principal,
    state: AppState,
    item_id: str,
    now: datetime,
    verb: str,
) -> QueueRow:
    """The item as it is after the nurse's action, which is audited as an update."""
    item = await queue.get_item(db, principal, item_id, now, state.local_zone)
    await _record(db, principal, audit.UPDATE, verb, item)
    return item


async def _record(
    db: AsyncConnection, principal: Principal, action: str, subtype: str, item: QueueRow
) -> None:
    await audit.record(
        db,
        principal,
        action=action,
        subtype=subtype,
        resource_type="Task",
        resource_id=item.id,
        patient_id=item.patient_id,
        centre_id=item.centre_id,
    )
