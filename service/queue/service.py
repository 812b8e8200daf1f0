"""Working the queue: list, claim, release, resolve, snooze, escalate.

Every change is one conditional UPDATE whose WHERE holds the state it requires and the
caller's reach, so of twenty nurses (or API processes) claiming one item at once exactly
one succeeds; the others learn who has it. Every change writes an event in the same
transaction, which the SSE stream and the item's history read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal
from service.errors import ApiError, Conflict, NotFound
from service.journal import service as journal
from service.models_base import new_id
from service.queue import page_repository as pages
from service.queue import repository, rows_view
from service.queue.models import (
    DEFAULT_RED_CLAIM_MINUTES,
    DEFAULT_RED_RESOLVE_MINUTES,
    ItemState,
)
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
from service.resource_use import service as resource_use

UNRESOLVED_STATES = (ItemState.open.value, ItemState.claimed.value, ItemState.snoozed.value)
MAX_SNOOZE = timedelta(days=14)


async def list_queue(
    conn: AsyncConnection,
    principal: Principal,
    now: datetime,
    zone: ZoneInfo,
    *,
    states: Sequence[str],
    severity: str | None,
    claimed_by: str | None,
    protocol: str | None,
    limit: int,
    trend_points: int = rows_view.TREND_POINTS,
) -> QueuePage:
    rows = await pages.list_items(
        conn,
        principal,
        states=states,
        now=now,
        severity=severity,
        claimed_by=claimed_by,
        protocol=protocol,
        limit=limit + 1,
    )
    items = await rows_view.rows(conn, rows[:limit], now, zone, trend_points)
    return QueuePage(items=items, truncated=len(rows) > limit)


async def get_item(
    conn: AsyncConnection,
    principal: Principal,
    item_id: str,
    now: datetime,
    zone: ZoneInfo,
    trend_points: int = rows_view.TREND_POINTS,
) -> QueueRow:
    row = await pages.get_visible(conn, principal, item_id)
    if row is None:
        raise NotFound("no such queue item")
    return (await rows_view.rows(conn, [row], now, zone, trend_points))[0]


async def latest_item(
    conn: AsyncConnection, principal: Principal, patient_id: str, now: datetime, zone: ZoneInfo
) -> QueueRow | None:
    """The patient's unresolved item, else their last resolved one; None if they never
    had one (or are out of reach: the caller checks the patient first)."""
    row = await pages.latest_of_patient(conn, principal, patient_id)
    return None if row is None else (await rows_view.rows(conn, [row], now, zone))[0]


async def severity_by_measurement(
    conn: AsyncConnection, observation_ids: Sequence[str]
) -> dict[tuple[str, str], str]:
    """The worst standing clinical finding per (reading, measurement): a blood-pressure
    panel red for its systolic is not red for its diastolic. Ids come from a query that
    already held the caller's reach."""
    rank = {"yellow": 1, "red": 2}
    worst: dict[tuple[str, str], str] = {}
    for f in await repository.findings_of_observations(conn, observation_ids):
        if f.technical or f.measurement is None or f.severity not in rank:
            continue
        key = (f.observation_id, f.measurement)
        if rank[f.severity] > rank.get(worst.get(key, ""), 0):
            worst[key] = f.severity
    return worst


async def opened_this_week(
    conn: AsyncConnection, principal: Principal, centre_id: str, now: datetime, zone: ZoneInfo
) -> dict[str, int]:
    """Items opened since Monday 00:00 in the centre's zone, by severity and technical."""
    today = now.astimezone(zone).date()
    monday = datetime.combine(today - timedelta(days=today.weekday()), time(), tzinfo=zone)
    counts = await repository.opened_since(conn, principal, centre_id, monday)
    return {kind: counts.get(kind, 0) for kind in ("red", "yellow", "technical")}


async def history(conn: AsyncConnection, principal: Principal, item_id: str) -> list[ItemEventRead]:
    if await pages.get_visible(conn, principal, item_id) is None:
        raise NotFound("no such queue item")
    events = await repository.events_of_item(conn, item_id)
    return [ItemEventRead.model_validate(e) for e in events]


async def claim(
    conn: AsyncConnection, principal: Principal, item_id: str, now: datetime
) -> Row[Any]:
    return await _change(
        conn,
        principal,
        item_id,
        now,
        kind="claimed",
        values={
            "state": ItemState.claimed.value,
            "claimed_by": principal.subject,
            "claimed_at": now,
        },
        states=(ItemState.open.value, ItemState.snoozed.value),
    )


async def release(
    conn: AsyncConnection, principal: Principal, item_id: str, now: datetime
) -> Row[Any]:
    return await _change(
        conn,
        principal,
        item_id,
        now,
        kind="released",
        values={"state": ItemState.open.value, "claimed_by": None, "claimed_at": None},
        states=(ItemState.claimed.value,),
        mine=True,
    )


async def resolve(
    conn: AsyncConnection,
    principal: Principal,
    item_id: str,
    request: ResolveRequest,
    now: datetime,
) -> Row[Any]:
    """Close the item. It may be resolved straight from the queue (a claim is implied)
    but not from under another nurse's claim."""
    current = await _visible(conn, principal, item_id)
    minutes = request.minutes
    if minutes is None and current.claimed_at is not None:
        minutes = round((now - current.claimed_at).total_seconds() / 60, 1)
    resolved = await _change(
        conn,
        principal,
        item_id,
        now,
        kind="resolved",
        values={
            "state": ItemState.resolved.value,
            "resolved_by": principal.subject,
            "resolved_at": now,
            "claimed_by": current.claimed_by or principal.subject,
            "claimed_at": current.claimed_at or now,
            "outcome": request.outcome.value,
            "actions": [a.value for a in request.actions],
            "note": request.note,
            "minutes": minutes,
        },
        states=UNRESOLVED_STATES,
        mine=True,
        detail={"outcome": request.outcome.value, "minutes": minutes},
    )
    await resource_use.record_resolution(conn, principal, resolved)
    # The note for the patient's record, queued in this same transaction (an outbox).
    await journal.record_resolution(conn, principal, resolved, now)
    return resolved


async def snooze(
    conn: AsyncConnection,
    principal: Principal,
    item_id: str,
    request: SnoozeRequest,
    now: datetime,
) -> Row[Any]:
    """Set the item aside until a time. Yellow findings of the same rule, measurement
    and direction are kept but raise nothing until then; a red always breaks through,
    and so does a yellow of another rule."""
    if request.until <= now:
        raise ApiError("until: must be in the future")
    if request.until > now + MAX_SNOOZE:
        raise ApiError(f"until: at most {MAX_SNOOZE.days} days ahead")
    current = await _visible(conn, principal, item_id)
    updated = await _change(
        conn,
        principal,
        item_id,
        now,
        kind="snoozed",
        values={
            "state": ItemState.snoozed.value,
            "snoozed_until": request.until,
            "claimed_by": None,
        },
        states=(ItemState.open.value, ItemState.claimed.value),
        mine=True,
        detail={"until": request.until.isoformat()},
    )
    found = (await repository.findings_of_items(conn, [item_id])).get(item_id, [])
    keys = {(f.rule, f.measurement, f.direction) for f in found}
    await repository.add_snoozes(
        conn,
        [
            {
                "id": new_id(),
                "centre_id": current.centre_id,
                "patient_id": current.patient_id,
                "item_id": item_id,
                "rule": rule,
                "measurement": measurement,
                "direction": direction,
                "until": request.until,
                "reason": request.reason,
                "created_by": principal.subject,
                "created_at": now,
            }
            for rule, measurement, direction in sorted(keys, key=str)
        ],
    )
    return updated


async def escalate(
    conn: AsyncConnection,
    principal: Principal,
    item_id: str,
    request: EscalateRequest,
    now: datetime,
) -> Row[Any]:
    return await _change(
        conn,
        principal,
        item_id,
        now,
        kind="escalated",
        values={"escalated_at": now, "escalation": f"nurse:{request.to.value}"},
        states=UNRESOLVED_STATES,
        detail={"to": request.to.value, "reason": request.reason},
    )


async def _change(
    conn: AsyncConnection,
    principal: Principal,
    item_id: str,
    now: datetime,
    *,
    kind: str,
    values: dict[str, Any],
    states: Sequence[str],
    mine: bool = False,
    detail: dict[str, Any] | None = None,
) -> Row[Any]:
    where = [repository.visible(principal), repository.item.c.state.in_(list(states))]
    if mine:
        claimed_by = repository.item.c.claimed_by
        where.append(claimed_by.is_(None) | (claimed_by == principal.subject))
    updated = await repository.update_item(
        conn, item_id, {**values, "updated_at": now}, where=where
    )
    if updated is None:
        current = await _visible(conn, principal, item_id)
        raise Conflict(_why_not(current, principal, kind))
    await repository.add_event(
        conn,
        {
            "centre_id": updated.centre_id,
            "patient_id": updated.patient_id,
            "item_id": item_id,
            "kind": kind,
            "severity": updated.severity,
            "actor": principal.subject,
            "detail": detail,
            "at": now,
        },
    )
    return updated


async def _visible(conn: AsyncConnection, principal: Principal, item_id: str) -> Row[Any]:
    row = await pages.get_visible(conn, principal, item_id)
    if row is None:
        raise NotFound("no such queue item")
    return row


def _why_not(current: Row[Any], principal: Principal, kind: str) -> str:
    if current.state == ItemState.resolved.value:
        return "the item is already resolved"
    if current.state == ItemState.claimed.value and current.claimed_by != principal.subject:
        return f"the item is claimed by {current.claimed_by}"
    return f"the item is {current.state}; it cannot be {kind} now"


async def read_policy(
    conn: AsyncConnection, principal: Principal, centre_id: str
) -> QueuePolicyRead:
    _require_centre(principal, centre_id)
    row = await repository.policy_of(conn, centre_id)
    if row is None:
        return QueuePolicyRead(
            centre_id=centre_id,
            red_claim_minutes=DEFAULT_RED_CLAIM_MINUTES,
            red_resolve_minutes=DEFAULT_RED_RESOLVE_MINUTES,
        )
    return QueuePolicyRead.model_validate(row)


async def write_policy(
    conn: AsyncConnection, principal: Principal, centre_id: str, policy: QueuePolicyWrite
) -> QueuePolicyRead:
    _require_centre(principal, centre_id)
    await repository.set_policy(conn, centre_id, policy.model_dump())
    return await read_policy(conn, principal, centre_id)


def _require_centre(principal: Principal, centre_id: str) -> None:
    """A centre's service levels are its staff's business only."""
    if centre_id not in principal.centres:
        raise NotFound("no such centre")
