"""From the rules' findings to the queue: store them once, and fold them into the
patient's one unresolved item.

Shared by live triage (a reading arrives) and the worker (a reading did not arrive), so an
item behaves the same whichever way its findings came.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import alerts
from service.errors import Unavailable
from service.models_base import new_id
from service.queue import repository
from service.queue.models import ItemState

# How often find-or-create of the patient's item is tried before the request is
# answered 503 (try again): more than one round needs a nurse to resolve a fresh item
# in the few milliseconds between two statements, twice.
_FIND_OR_CREATE_ROUNDS = 3


@dataclass(frozen=True)
class Subject:
    """The patient the findings are about, and the plan version that judged them."""

    patient_id: str
    centre_id: str
    plan_version: int | None


def anchor_of(found: alerts.Finding) -> str:
    """What makes a finding "the same" as one stored before: its reading, or for a gap
    (missing reading, silent device) the moment the gap passed its limit."""
    if found.reading_ids:
        return found.reading_ids[0]
    assert found.effective_at is not None
    return gap_anchor(found.device_id or found.measurement or "-", found.effective_at)


def gap_anchor(what: str, effective_at: datetime) -> str:
    """The anchor of a finding about a gap in ``what`` (a device, a measurement)."""
    return f"{what}@{effective_at.isoformat()}"


async def record(
    conn: Any,
    subject: Subject,
    found: Sequence[alerts.Finding],
    now: datetime,
    *,
    actor: str | None = None,
    events: list[dict[str, Any]] | None = None,
) -> list[str]:
    """Store new findings and raise the item. Answers the ids of the findings that
    were new (a finding stored before is not stored, nor raised, again).

    A job that touches many centres in one transaction passes ``events``: the queue
    events are then collected there for ``repository.add_events`` to write at the end,
    so the job takes the centres' event counters last and in one order (see there)."""
    if not found:
        return []
    snoozed = await _snoozed_keys(conn, subject.patient_id, now)
    rows = [_row(subject, f, now, snoozed) for f in found]
    new_ids = await repository.insert_findings(conn, rows)
    raising = [
        (r, f)
        for r, f in zip(rows, found, strict=True)
        if r["id"] in new_ids and not r["snoozed"] and f.severity is not alerts.Severity.GREEN
    ]
    muted = [r["id"] for r in rows if r["id"] in new_ids and r["snoozed"]]
    if muted:
        # Evidence for the snoozed item: listed with it, raising nothing.
        current = await repository.unresolved_item(conn, subject.patient_id)
        if current is not None:
            await repository.link_findings(conn, muted, current.id)
    if raising:
        await _fold_into_item(
            conn,
            subject,
            [f for _, f in raising],
            [r["id"] for r, _ in raising],
            now,
            actor,
            events,
        )
    return [r["id"] for r in rows if r["id"] in new_ids]


async def record_many(
    conn: Any,
    batch: Sequence[tuple[Subject, Sequence[alerts.Finding]]],
    now: datetime,
    *,
    events: list[dict[str, Any]],
) -> int:
    """``record`` for many patients at once (the missing-reading scan): their snoozes
    read, their findings stored and their new items opened and linked, each in one
    statement for all of them; a patient whose item is already unresolved is folded
    into it as ``record`` does. Answers how many findings were new."""
    batch = [(subject, found) for subject, found in batch if found]
    if not batch:
        return 0
    snoozed: dict[str, set[tuple[Any, ...]]] = {}
    for r in await repository.all_active_snoozes(conn, now):
        snoozed.setdefault(r.patient_id, set()).add((r.rule, r.measurement, r.direction))
    rows_of = [
        [_row(subject, f, now, snoozed.get(subject.patient_id, set())) for f in found]
        for subject, found in batch
    ]
    new_ids = await repository.insert_findings(conn, [r for rows in rows_of for r in rows])
    raising_of: list[tuple[Subject, list[alerts.Finding], list[str]]] = []
    for (subject, found), rows in zip(batch, rows_of, strict=True):
        muted = [r["id"] for r in rows if r["id"] in new_ids and r["snoozed"]]
        if muted:
            current = await repository.unresolved_item(conn, subject.patient_id)
            if current is not None:
                await repository.link_findings(conn, muted, current.id)
        raising = [
            (r, f)
            for r, f in zip(rows, found, strict=True)
            if r["id"] in new_ids and not r["snoozed"] and f.severity is not alerts.Severity.GREEN
        ]
        if raising:
            raising_of.append((subject, [f for _, f in raising], [r["id"] for r, _ in raising]))
    await _open_items(conn, raising_of, now, events)
    return sum(1 for rows in rows_of for r in rows if r["id"] in new_ids)


async def _open_items(
    conn: Any,
    raising_of: Sequence[tuple[Subject, list[alerts.Finding], list[str]]],
    now: datetime,
    events: list[dict[str, Any]],
) -> None:
    """New items for the patients without an unresolved one, in one statement; the
    others' findings are folded into theirs one patient at a time (``_fold_into_item``)."""
    values = [_new_item(subject, found, now) for subject, found, _ in raising_of]
    created = await repository.open_items(conn, [{"id": new_id(), **v} for v in values])
    links: list[tuple[str, str]] = []
    for subject, found, finding_ids in raising_of:
        item = created.get(subject.patient_id)
        if item is None:
            await _fold_into_item(conn, subject, found, finding_ids, now, None, events)
            continue
        links.extend((finding_id, item.id) for finding_id in finding_ids)
        event = {"centre_id": subject.centre_id, "patient_id": subject.patient_id, "actor": None}
        created_event = {**event, "item_id": item.id, "kind": "created", "severity": item.severity}
        await _emit(conn, events, created_event, now)
    await repository.link_findings_to_items(conn, links)


def _new_item(subject: Subject, found: Sequence[alerts.Finding], now: datetime) -> dict[str, Any]:
    """The item that findings open when the patient has no unresolved one."""
    return {
        "centre_id": subject.centre_id,
        "patient_id": subject.patient_id,
        "severity": alerts.Severity.worst(f.severity for f in found).value,
        "critical": any(f.critical for f in found),
        "technical": all(f.technical for f in found),
        "state": ItemState.open.value,
        "opened_at": now,
        "waiting_since": now,
        "updated_at": now,
        "back_in_range": False,
        "version": 1,
    }


async def _snoozed_keys(conn: Any, patient_id: str, now: datetime) -> set[tuple[Any, ...]]:
    rows = await repository.active_snoozes(conn, patient_id, now)
    return {(r.rule, r.measurement, r.direction) for r in rows}


def _row(
    subject: Subject, found: alerts.Finding, now: datetime, snoozed: set[tuple[Any, ...]]
) -> dict[str, Any]:
    direction = found.direction.value if found.direction is not None else None
    muted = (
        found.severity is alerts.Severity.YELLOW
        and (str(found.rule), found.measurement, direction) in snoozed
    )
    return {
        "id": new_id(),
        "centre_id": subject.centre_id,
        "patient_id": subject.patient_id,
        "item_id": None,
        "observation_id": found.reading_ids[0] if found.reading_ids else None,
        "anchor": anchor_of(found),
        "rule": str(found.rule),
        "severity": found.severity.value,
        "measurement": found.measurement,
        "direction": direction,
        "reading_ids": list(dict.fromkeys(found.reading_ids)),
        "reason_nb": found.reason_nb,
        "reason_en": found.reason_en,
        "value": found.value,
        "threshold": found.threshold,
        "late": found.late,
        "technical": found.technical,
        "critical": found.critical,
        "snoozed": muted,
        "device_id": found.device_id,
        "effective_at": found.effective_at or now,
        "care_plan_version": subject.plan_version,
        "created_at": now,
    }


async def _fold_into_item(
    conn: Any,
    subject: Subject,
    found: Sequence[alerts.Finding],
    finding_ids: Sequence[str],
    now: datetime,
    actor: str | None,
    events: list[dict[str, Any]] | None,
) -> None:
    worst = alerts.Severity.worst(f.severity for f in found)
    critical = any(f.critical for f in found)
    technical = all(f.technical for f in found)
    event = {"centre_id": subject.centre_id, "patient_id": subject.patient_id, "actor": actor}
    new_item = _new_item(subject, found, now)
    # Find or create, tried again when a nurse resolves the patient's item between the
    # two steps: the insert then met the item (unresolved), the locking select no longer
    # does (resolved), and the next insert succeeds. Each round sees a newer commit, so
    # it settles at once unless nurses resolve a fresh item every few milliseconds.
    for _ in range(_FIND_OR_CREATE_ROUNDS):
        created = await repository.open_item(conn, {"id": new_id(), **new_item})
        if created is not None:
            await repository.link_findings(conn, finding_ids, created.id)
            await _emit(
                conn,
                events,
                {**event, "item_id": created.id, "kind": "created", "severity": worst.value},
                now,
            )
            return
        current = await repository.unresolved_item(conn, subject.patient_id, for_update=True)
        if current is not None:
            break
    else:
        raise Unavailable("the patient's queue item changed meanwhile; send the reading again")
    await repository.link_findings(conn, finding_ids, current.id)
    severity = alerts.Severity(current.severity)
    raised = worst > severity
    changes: dict[str, Any] = {
        "updated_at": now,
        "back_in_range": False,
        "critical": current.critical or critical,
        "technical": current.technical and technical,
    }
    kind = None
    if raised:
        changes.update(severity=worst.value, waiting_since=now)
        kind = "raised"
    if current.state == ItemState.snoozed.value:
        # Only findings that no snooze mutes get here: they end the snooze.
        changes.update(state=ItemState.open.value, snoozed_until=None)
        kind = kind or "reopened"
    updated = await repository.update_item(conn, current.id, changes)
    assert updated is not None
    if kind is None:
        # One more finding on an item already waiting at this severity: nothing for the
        # stream. Events take the centre's sequence lock, so they are kept for changes
        # a nurse must see (created, raised, reopened).
        return
    change = {**event, "item_id": current.id, "kind": kind, "severity": updated.severity}
    await _emit(conn, events, change, now)


async def _emit(
    conn: Any, events: list[dict[str, Any]] | None, values: dict[str, Any], now: datetime
) -> None:
    if events is None:
        await repository.add_event(conn, {**values, "at": now})
    else:
        events.append({**values, "at": now})
