"""Data access of findings, items, snoozes and events. Core SQL: the writes here run
inside the ingest transaction of every deviating reading.

Reads for staff go through ``service.tenancy``; writes are given rows whose patient was
already resolved within the caller's reach.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal
from service.careplans.models import CarePlanVersion
from service.models_base import new_id
from service.patients.models import Patient
from service.queue.models import (
    DEFAULT_RED_CLAIM_MINUTES,
    DEFAULT_RED_RESOLVE_MINUTES,
    WITHDRAWN,
    Finding,
    ItemState,
    QueuePolicy,
    Snooze,
    TriageEvent,
    TriageItem,
)
from service.tenancy import measurements_visible_to

finding = Finding.__table__  # type: ignore[attr-defined]
item = TriageItem.__table__  # type: ignore[attr-defined]
snooze = Snooze.__table__  # type: ignore[attr-defined]
event = TriageEvent.__table__  # type: ignore[attr-defined]
policy = QueuePolicy.__table__  # type: ignore[attr-defined]
patient = Patient.__table__  # type: ignore[attr-defined]
plan = CarePlanVersion.__table__  # type: ignore[attr-defined]

UNRESOLVED = item.c.state != ItemState.resolved.value
_UNRESOLVED_SQL = sa.text("state != 'resolved'")


def _dialect_insert(conn: AsyncConnection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


@functools.cache
def _finding_insert(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(finding)
        .on_conflict_do_nothing(index_elements=["patient_id", "rule", "anchor"])
        .returning(finding.c.id)
    )


async def insert_findings(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Store the findings not stored before; the unique (patient, rule, anchor) is what
    makes a rule fire once per reading, also when two deliveries race."""
    if not rows:
        return set()
    result = await conn.execute(_finding_insert(conn.dialect.name), list(rows))
    return {r.id for r in result}


async def unstored_anchors(
    conn: AsyncConnection, keys: Sequence[tuple[str, str, str]]
) -> set[tuple[str, str, str]]:
    """Which of these (patient, rule, anchor) findings are not stored yet, on their
    unique index. On PostgreSQL one anti-join whatever their number (three arrays,
    unnested): a steady tick finds nearly all of its 100,000 gaps stored, and answering
    only the few new ones spares sending the rest back. On SQLite row values in chunks."""
    if not keys:
        return set()
    columns = (finding.c.patient_id, finding.c.rule, finding.c.anchor)
    if conn.dialect.name == "postgresql":
        patients, rules, anchors = (list(part) for part in zip(*keys, strict=True))
        rows = await conn.execute(_UNSTORED_ANCHORS, {"p": patients, "r": rules, "a": anchors})
        return {(r.p, r.r, r.a) for r in rows}
    found: set[tuple[str, str, str]] = set()
    for start in range(0, len(keys), 500):
        part = list(keys[start : start + 500])
        query = sa.select(*columns).where(sa.tuple_(*columns).in_(part))
        found.update((r.patient_id, r.rule, r.anchor) for r in await conn.execute(query))
    return set(keys) - found


_UNSTORED_ANCHORS = sa.text(
    """SELECT k.p, k.r, k.a
    FROM unnest(CAST(:p AS text[]), CAST(:r AS text[]), CAST(:a AS text[])) AS k(p, r, a)
    WHERE NOT EXISTS (
        SELECT FROM finding AS f WHERE f.patient_id = k.p AND f.rule = k.r AND f.anchor = k.a
    )"""
)


async def link_findings(conn: AsyncConnection, finding_ids: Iterable[str], item_id: str) -> None:
    ids = list(finding_ids)
    if ids:
        await conn.execute(sa.update(finding).where(finding.c.id.in_(ids)).values(item_id=item_id))


async def findings_of_items(
    conn: AsyncConnection, item_ids: Sequence[str]
) -> dict[str, list[Row[Any]]]:
    if not item_ids:
        return {}
    query = (
        sa.select(finding)
        .where(finding.c.item_id.in_(list(item_ids)))
        .order_by(finding.c.effective_at, finding.c.id)
    )
    grouped: dict[str, list[Row[Any]]] = {}
    for row in await conn.execute(query):
        grouped.setdefault(row.item_id, []).append(row)
    return grouped


async def findings_of_observations(
    conn: AsyncConnection, observation_ids: Sequence[str]
) -> Sequence[Row[Any]]:
    if not observation_ids:
        return []
    query: Any = sa.select(
        finding.c.observation_id,
        finding.c.measurement,
        finding.c.severity,
        finding.c.critical,
        finding.c.technical,
    ).where(finding.c.observation_id.in_(list(observation_ids)), finding.c.withdrawn_at.is_(None))
    return (await conn.execute(query)).all()


async def active_snoozes(
    conn: AsyncConnection, patient_id: str, now: datetime
) -> Sequence[Row[Any]]:
    query = sa.select(snooze.c.rule, snooze.c.measurement, snooze.c.direction).where(
        snooze.c.patient_id == patient_id, snooze.c.until > now
    )
    return (await conn.execute(query)).all()


async def add_snoozes(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(sa.insert(snooze), list(rows))


async def unresolved_item(
    conn: AsyncConnection, patient_id: str, *, for_update: bool = False
) -> Row[Any] | None:
    query = sa.select(item).where(item.c.patient_id == patient_id, UNRESOLVED)
    if for_update:
        query = query.with_for_update()
    return (await conn.execute(query)).first()


async def open_item(conn: AsyncConnection, values: dict[str, Any]) -> Row[Any] | None:
    """Insert a new item unless the patient has an unresolved one (then None): the
    partial unique index settles two concurrent first findings."""
    insert = _dialect_insert(conn)
    statement = (
        insert(item)
        .values(**values)
        # The partial index's own predicate, as literal SQL: PostgreSQL infers the index
        # only from the same expression, not from a bound parameter.
        .on_conflict_do_nothing(index_elements=["patient_id"], index_where=_UNRESOLVED_SQL)
        .returning(*item.c)
    )
    return (await conn.execute(statement)).first()


async def open_items(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> dict[str, Row[Any]]:
    """``open_item`` for many patients (one row each) in one statement: the items
    inserted, by patient; a patient with an unresolved item is left out."""
    if not rows:
        return {}
    statement = (
        _dialect_insert(conn)(item)
        .on_conflict_do_nothing(index_elements=["patient_id"], index_where=_UNRESOLVED_SQL)
        .returning(*item.c)
    )
    return {r.patient_id: r for r in await conn.execute(statement, list(rows))}


async def link_findings_to_items(conn: AsyncConnection, links: Sequence[tuple[str, str]]) -> None:
    """(finding id, item id) pairs, in one statement executed for many."""
    if links:
        statement = (
            sa.update(finding)
            .where(finding.c.id == sa.bindparam("finding_id"))
            .values(item_id=sa.bindparam("to_item"))
        )
        await conn.execute(statement, [{"finding_id": f, "to_item": i} for f, i in links])


async def all_active_snoozes(conn: AsyncConnection, now: datetime) -> Sequence[Row[Any]]:
    """Every snooze still running: few at any time, read once by a scan over everyone."""
    query = sa.select(
        snooze.c.patient_id, snooze.c.rule, snooze.c.measurement, snooze.c.direction
    ).where(snooze.c.until > now)
    return (await conn.execute(query)).all()


async def update_item(
    conn: AsyncConnection,
    item_id: str,
    values: Mapping[str, Any],
    *,
    where: Sequence[Any] = (),
) -> Row[Any] | None:
    """A conditional update: only when ``where`` still holds, so of two nurses acting
    on one item at once, exactly one changes it. Answers the row, or None."""
    statement = (
        sa.update(item)
        .where(item.c.id == item_id, *where)
        .values(**values, version=item.c.version + 1)
        .returning(*item.c)
    )
    return (await conn.execute(statement)).first()


async def next_event_seq(conn: AsyncConnection, centre_id: str) -> int:
    """The centre's next event number. The row stays locked until commit, so the
    centre's events commit in number order (a stream reader never skips one)."""
    insert = _dialect_insert(conn)
    statement = (
        insert(policy)
        .values(centre_id=centre_id, last_event_seq=1)
        .on_conflict_do_update(
            index_elements=["centre_id"], set_={"last_event_seq": policy.c.last_event_seq + 1}
        )
        .returning(policy.c.last_event_seq)
    )
    return int((await conn.execute(statement)).scalar_one())


# PostgreSQL delivers a NOTIFY at commit, to every process LISTENing on the channel:
# how an SSE stream in one API process hears of an event written by another.
QUEUE_CHANNEL = "dho_queue"
_NOTIFY = sa.text("SELECT pg_notify(:channel, :centre)")


async def add_event(conn: AsyncConnection, values: dict[str, Any]) -> int:
    seq = await next_event_seq(conn, values["centre_id"])
    await conn.execute(sa.insert(event).values(id=new_id(), seq=seq, **values))
    if conn.dialect.name == "postgresql":
        await conn.execute(_NOTIFY, {"channel": QUEUE_CHANNEL, "centre": values["centre_id"]})
    return seq


async def add_events(conn: AsyncConnection, values: Sequence[dict[str, Any]]) -> None:
    """Write a job's collected events, centre by centre in one global order.

    Each event holds its centre's counter row locked until commit. A job over many
    centres that wrote its events as it went took the counters in whatever order its
    scan met the centres, and two jobs (the missing-reading scan and the SLA escalation)
    deadlocked at worker start. Written last, sorted by centre, every job takes its items'
    locks first and the counters after, in the same order, and requests hold only one
    centre's counter: no cycle is left. The sort is stable, so a centre's events keep
    the order the job made them in.

    Each centre's events take their numbers in one statement (the counter moved by
    their count), go in with one INSERT and wake the streams with one NOTIFY
    (PostgreSQL folds a transaction's identical notifications into one anyway): a scan
    that raises thousands of items no longer pays three round trips for each."""
    by_centre: dict[str, list[dict[str, Any]]] = {}
    for one in sorted(values, key=lambda v: str(v["centre_id"])):
        by_centre.setdefault(one["centre_id"], []).append(one)
    for centre_id, events in by_centre.items():
        last = await _reserve_event_seqs(conn, centre_id, len(events))
        first = last - len(events) + 1
        rows = [
            {"actor": None, "detail": None, **one, "id": new_id(), "seq": first + n}
            for n, one in enumerate(events)
        ]
        await conn.execute(sa.insert(event), rows)
        if conn.dialect.name == "postgresql":
            await conn.execute(_NOTIFY, {"channel": QUEUE_CHANNEL, "centre": centre_id})


async def _reserve_event_seqs(conn: AsyncConnection, centre_id: str, count: int) -> int:
    """Move the centre's counter on by ``count`` (``next_event_seq`` for many): answers
    the last number taken, and holds the row locked until commit as that does."""
    insert = _dialect_insert(conn)
    statement = (
        insert(policy)
        .values(centre_id=centre_id, last_event_seq=count)
        .on_conflict_do_update(
            index_elements=["centre_id"],
            set_={"last_event_seq": policy.c.last_event_seq + count},
        )
        .returning(policy.c.last_event_seq)
    )
    return int((await conn.execute(statement)).scalar_one())


async def events_after(
    conn: AsyncConnection, after: Mapping[str, int], centres: Sequence[str], limit: int
) -> Sequence[Row[Any]]:
    """Events of ``centres`` numbered after ``after[centre]`` (0: from the start), by
    number. A centre's numbers have no gaps and commit in order (``next_event_seq``),
    so whatever ``limit`` cuts off, each centre's rows are the unbroken run after its
    position: a reader that moves its position to the last row read skips nothing."""
    clauses = [sa.and_(event.c.centre_id == c, event.c.seq > after.get(c, 0)) for c in centres]
    if not clauses:
        return []
    query = sa.select(event).where(sa.or_(*clauses)).order_by(event.c.seq, event.c.centre_id)
    return (await conn.execute(query.limit(limit))).all()


async def last_event_seqs(conn: AsyncConnection, centres: Sequence[str]) -> dict[str, int]:
    query = sa.select(policy.c.centre_id, policy.c.last_event_seq).where(
        policy.c.centre_id.in_(list(centres))
    )
    return {r.centre_id: r.last_event_seq for r in await conn.execute(query)}


async def policies(conn: AsyncConnection) -> dict[str, Row[Any]]:
    return {r.centre_id: r for r in await conn.execute(sa.select(policy))}


async def opened_since(
    conn: AsyncConnection, principal: Principal, centre_id: str, since: datetime
) -> dict[str, int]:
    """Items of a centre opened since ``since``, by severity (technical ones as
    "technical"), in the caller's reach; items withdrawn with a retracted reading are
    history of an error and left out."""
    kind = sa.case((item.c.technical, sa.literal("technical")), else_=item.c.severity)
    query: Any = (
        sa.select(kind.label("kind"), sa.func.count().label("n"))
        .where(
            visible(principal),
            item.c.centre_id == centre_id,
            item.c.opened_at >= since,
            item.c.outcome.is_distinct_from(WITHDRAWN),
        )
        .group_by(kind)
    )
    return {row.kind: int(row.n) for row in await conn.execute(query)}


def visible(principal: Principal) -> Any:
    """The reach clause for conditional updates of items."""
    return measurements_visible_to(principal, item)


async def events_of_item(conn: AsyncConnection, item_id: str) -> Sequence[Row[Any]]:
    query = sa.select(event).where(event.c.item_id == item_id).order_by(event.c.seq)
    return (await conn.execute(query)).all()


async def overdue_items(conn: AsyncConnection, now: datetime) -> Sequence[Row[Any]]:
    """Unescalated items past their centre's SLA: a red not claimed in time, or a
    claimed red not resolved in time (defaults apply to a centre without a policy)."""
    claim_minutes = sa.func.coalesce(policy.c.red_claim_minutes, DEFAULT_RED_CLAIM_MINUTES)
    resolve_minutes = sa.func.coalesce(policy.c.red_resolve_minutes, DEFAULT_RED_RESOLVE_MINUTES)
    query = (
        sa.select(
            item, claim_minutes.label("claim_minutes"), resolve_minutes.label("resolve_minutes")
        )
        .select_from(item)
        .outerjoin(policy, policy.c.centre_id == item.c.centre_id)
        .where(
            item.c.escalated_at.is_(None),
            item.c.severity == "red",
            item.c.state.in_([ItemState.open.value, ItemState.claimed.value]),
        )
        # Jobs lock items by patient, in one order (see ``add_events``).
        .order_by(item.c.patient_id, item.c.id)
    )
    rows = (await conn.execute(query)).all()
    return [r for r in rows if _overdue(r, now)]


def _overdue(row: Any, now: datetime) -> bool:
    if row.state == ItemState.open.value:
        return bool((now - row.waiting_since).total_seconds() > row.claim_minutes * 60)
    return bool((now - row.claimed_at).total_seconds() > row.resolve_minutes * 60)


async def snoozes_ended(conn: AsyncConnection, now: datetime) -> Sequence[Row[Any]]:
    query = (
        sa.select(item)
        .where(item.c.state == ItemState.snoozed.value, item.c.snoozed_until <= now)
        .order_by(item.c.patient_id, item.c.id)
    )
    return (await conn.execute(query)).all()


async def policy_of(conn: AsyncConnection, centre_id: str) -> Row[Any] | None:
    return (await conn.execute(sa.select(policy).where(policy.c.centre_id == centre_id))).first()


async def set_policy(conn: AsyncConnection, centre_id: str, values: Mapping[str, Any]) -> None:
    statement = (
        _dialect_insert(conn)(policy)
        .values(centre_id=centre_id, last_event_seq=0, **values)
        .on_conflict_do_update(index_elements=["centre_id"], set_=dict(values))
    )
    await conn.execute(statement)
