"""The journal's operator API: ``/api/journal`` and each centre's receiver.

For a centre's admins (a token that may update the Organization): they see what is
stuck, send it again or cancel it, and set where the centre's documents go. Every read
and change is audited; the documents themselves (clinical notes) are never served here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from service.audit import service as audit
from service.auth.deps import OrganizationManager
from service.auth.principal import Principal
from service.deps import Db, State
from service.journal import service as journal
from service.journal.schemas import (
    JournalConfigRead,
    JournalConfigWrite,
    JournalMessageRead,
    JournalPage,
)
from service.models_base import utcnow

router = APIRouter(prefix="/api/journal", tags=["Journal"])

StateFilter = Literal["pending", "sending", "sent", "failed", "dead", "cancelled"]
_NOT_NOW: dict[int | str, dict[str, Any]] = {
    409: {"description": "the message's state does not allow this"}
}


@router.get("")
async def list_messages(
    request: Request,
    principal: OrganizationManager,
    db: Db,
    state: Annotated[list[StateFilter] | None, Query()] = None,
    centre: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> JournalPage:
    """The outbox of the caller's centres, oldest first: ``state=failed&state=dead``
    is what needs an operator."""
    page = await journal.list_messages(db, principal, state or [], centre, limit)
    touched = [(m.patient_id, m.centre_id) for m in page.items]
    await audit.record_search(
        db, principal, "Composition", request.query_params.multi_items(), touched
    )
    return page


@router.post("/{message_id}/retry", responses=_NOT_NOW)
async def retry(message_id: str, principal: OrganizationManager, db: Db) -> JournalMessageRead:
    """A failed or dead message is sent again now, with a fresh budget of attempts."""
    moved = await journal.retry(db, principal, message_id, utcnow())
    await _record(db, principal, "retry", moved)
    return moved


@router.post("/{message_id}/cancel", responses=_NOT_NOW)
async def cancel(message_id: str, principal: OrganizationManager, db: Db) -> JournalMessageRead:
    """A pending, failed or dead message is never sent; the patient's later ones go on."""
    moved = await journal.cancel(db, principal, message_id, utcnow())
    await _record(db, principal, "cancel", moved)
    return moved


async def _record(
    db: AsyncConnection, principal: Principal, verb: str, moved: JournalMessageRead
) -> None:
    await audit.record(
        db,
        principal,
        action=audit.UPDATE,
        subtype=f"journal-{verb}",
        resource_type="Composition",
        resource_id=moved.id,
        patient_id=moved.patient_id,
        centre_id=moved.centre_id,
    )


config_router = APIRouter(prefix="/api/centres/{centre_id}/journal-config", tags=["Journal"])


@config_router.get("")
async def read_config(centre_id: str, principal: OrganizationManager, db: Db) -> JournalConfigRead:
    """Where the centre's documents go and which items are journalled (404: none set)."""
    return await journal.read_config(db, principal, centre_id)


@config_router.put("")
async def write_config(
    centre_id: str,
    body: JournalConfigWrite,
    principal: OrganizationManager,
    db: Db,
    state: State,
) -> JournalConfigRead:
    """Set the centre's receiver. Items resolved from now on are journalled by it;
    messages already waiting are sent to the receiver set when they are sent."""
    written = await journal.write_config(db, principal, centre_id, body, utcnow(), state.settings)
    await audit.record(
        db,
        principal,
        action=audit.UPDATE,
        subtype="journal-config",
        resource_type="Organization",
        resource_id=centre_id,
        centre_id=centre_id,
    )
    return written
