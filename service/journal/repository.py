"""Data access of the outbox and the centres' receivers.

The worker's claim is the one subtle query: a due message whose patient has no older
message still unsent, taken with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so that
several workers pass each other instead of queueing on one row, then moved to
``sending`` by a conditional UPDATE (which alone decides on SQLite, where a write
transaction is already exclusive). Every later change of a claimed message names the
attempt it belongs to, so a worker whose lease ran out cannot overwrite the outcome of
the worker that took over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal
from service.centres.models import Centre
from service.ingest.models import Observation
from service.journal.models import UNSENT, JournalConfig, JournalMessage, JournalState
from service.models_base import new_id, utcnow
from service.patients.models import Patient
from service.tenancy import journal_visible_to

message = JournalMessage.__table__  # type: ignore[attr-defined]
config = JournalConfig.__table__  # type: ignore[attr-defined]
observation = Observation.__table__  # type: ignore[attr-defined]
patient = Patient.__table__  # type: ignore[attr-defined]
centre = Centre.__table__  # type: ignore[attr-defined]

DUE = (JournalState.pending.value, JournalState.failed.value, JournalState.sending.value)

# Everything but the document: lists and the worker's bookkeeping need no more.
_SUMMARY = [c for c in message.c if c.name != "document"]


async def config_of(conn: AsyncConnection, centre_id: str) -> Row[Any] | None:
    return (await conn.execute(sa.select(config).where(config.c.centre_id == centre_id))).first()


async def set_config(conn: AsyncConnection, centre_id: str, values: Mapping[str, Any]) -> None:
    updated = await conn.execute(
        sa.update(config).where(config.c.centre_id == centre_id).values(**values)
    )
    if updated.rowcount == 0:
        await conn.execute(sa.insert(config).values(centre_id=centre_id, **values))


async def enqueue(
    conn: AsyncConnection,
    *,
    centre_id: str,
    patient_id: str,
    item_id: str | None,
    kind: str,
    bundle_identifier: str,
    document: Mapping[str, Any],
) -> str:
    """A pending message, due now; answers its id.

    The outbox's order is the patient's order in the record: the moment the row is
    written, not the caller's ``now``, which may be earlier (the console's enrolment
    takes its ``now`` before the patient's row, then writes the first care plan with it;
    the demo backdates its resolves). The document keeps the caller's moments.
    """
    message_id = new_id()
    written = utcnow()
    await conn.execute(
        sa.insert(message).values(
            id=message_id,
            centre_id=centre_id,
            patient_id=patient_id,
            item_id=item_id,
            kind=kind,
            state=JournalState.pending.value,
            attempts=0,
            next_attempt_at=written,
            bundle_identifier=bundle_identifier,
            document=document,
            created_at=written,
            updated_at=written,
        )
    )
    return message_id


async def observations(conn: AsyncConnection, ids: Sequence[str]) -> Sequence[Row[Any]]:
    """Readings by id; the ids come from findings already held to the caller's reach."""
    if not ids:
        return []
    query = (
        sa.select(observation)
        .where(observation.c.id.in_(list(ids)))
        .order_by(observation.c.effective_at, observation.c.id)
    )
    return (await conn.execute(query)).all()


async def patient_row(conn: AsyncConnection, patient_id: str) -> Row[Any] | None:
    return (await conn.execute(sa.select(patient).where(patient.c.id == patient_id))).first()


async def centre_row(conn: AsyncConnection, centre_id: str) -> Row[Any] | None:
    return (await conn.execute(sa.select(centre).where(centre.c.id == centre_id))).first()


async def claim(conn: AsyncConnection, now: datetime, lease_until: datetime) -> Row[Any] | None:
    """Take one due message (``sending`` until ``lease_until``, one attempt more), or
    None when nothing is due. Per-patient order: a message waits while an older one of
    its patient is unsent (pending, sending, failed or dead)."""
    older = message.alias("older")
    blocked = sa.exists().where(
        older.c.patient_id == message.c.patient_id,
        older.c.state.in_(UNSENT),
        sa.tuple_(older.c.created_at, older.c.id) < sa.tuple_(message.c.created_at, message.c.id),
    )
    query = (
        sa.select(message.c.id, message.c.state, message.c.attempts)
        .where(message.c.state.in_(DUE), message.c.next_attempt_at <= now, ~blocked)
        .order_by(message.c.next_attempt_at, message.c.created_at, message.c.id)
        .limit(1)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=message)
    candidate = (await conn.execute(query)).first()
    if candidate is None:
        return None
    statement = (
        sa.update(message)
        .where(
            message.c.id == candidate.id,
            message.c.state == candidate.state,
            message.c.attempts == candidate.attempts,
        )
        .values(
            state=JournalState.sending.value,
            attempts=message.c.attempts + 1,
            next_attempt_at=lease_until,
            updated_at=now,
        )
        .returning(*message.c)
    )
    return (await conn.execute(statement)).first()


async def finish(
    conn: AsyncConnection, message_id: str, attempt: int, values: Mapping[str, Any]
) -> bool:
    """Record the outcome of ``attempt``, unless the message was taken over since."""
    statement = sa.update(message).where(
        message.c.id == message_id,
        message.c.state == JournalState.sending.value,
        message.c.attempts == attempt,
    )
    return (await conn.execute(statement.values(**values))).rowcount == 1


async def list_visible(
    conn: AsyncConnection,
    principal: Principal,
    states: Sequence[str],
    centre_id: str | None,
    limit: int,
) -> Sequence[Row[Any]]:
    query = sa.select(*_SUMMARY).where(journal_visible_to(principal, message))
    if states:
        query = query.where(message.c.state.in_(list(states)))
    if centre_id is not None:
        query = query.where(message.c.centre_id == centre_id)
    query = query.order_by(message.c.created_at, message.c.id).limit(limit)
    return (await conn.execute(query)).all()


async def get_visible(
    conn: AsyncConnection, principal: Principal, message_id: str
) -> Row[Any] | None:
    query = sa.select(*_SUMMARY).where(
        message.c.id == message_id, journal_visible_to(principal, message)
    )
    return (await conn.execute(query)).first()


async def move_visible(
    conn: AsyncConnection,
    principal: Principal,
    message_id: str,
    from_states: Sequence[str],
    values: Mapping[str, Any],
) -> Row[Any] | None:
    """A conditional change by an operator: only from ``from_states``, in their reach."""
    statement = (
        sa.update(message)
        .where(
            message.c.id == message_id,
            message.c.state.in_(list(from_states)),
            journal_visible_to(principal, message),
        )
        .values(**values)
        .returning(*_SUMMARY)
    )
    return (await conn.execute(statement)).first()


async def states_of_items(conn: AsyncConnection, item_ids: Sequence[str]) -> dict[str, Row[Any]]:
    """The journal message of each item (ids from a query that held the caller's reach)."""
    if not item_ids:
        return {}
    query: Any = sa.select(
        message.c.item_id, message.c.id, message.c.state, message.c.last_error, message.c.sent_at
    ).where(message.c.item_id.in_(list(item_ids)))
    return {row.item_id: row for row in await conn.execute(query)}


async def counts(conn: AsyncConnection) -> dict[str, int]:
    """Messages by state, for the operator's view of the outbox."""
    query: Any = sa.select(message.c.state, sa.func.count()).group_by(message.c.state)
    return {state: int(n) for state, n in await conn.execute(query)}
