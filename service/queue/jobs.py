"""The queue's background work: readings that did not come, service levels that
passed, snoozes that ended. Each is a scan of the present state, safe to repeat.

Each job runs in one transaction over every centre. It touches items in patient order
and writes its queue events at the end (``repository.add_events``), so two jobs, or a
job and a live reading, never wait for each other in a cycle."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

import alerts
from service.careplans import repository as careplans
from service.careplans import service as careplan_service
from service.ingest import repository as observations
from service.queue import findings as queue_findings
from service.queue import readings as rule_readings
from service.queue import repository
from service.queue.models import ItemState


async def scan_missing_readings(conn: AsyncConnection, now: datetime) -> str:
    """Expected readings overdue, and devices gone silent, for every active patient."""
    # One row per patient and measurement: 100,000 at a region's size, so the loop
    # unpacks plain tuples and names each stored measurement's rule keys once.
    last_seen: dict[str, dict[str, datetime]] = defaultdict(dict)
    keys_of: dict[str, tuple[str, ...]] = {}
    for row in await observations.latest_per_measurement(conn):
        patient_id, measurement, last_at = row.patient_id, row.measurement, row.last_at
        keys = keys_of.get(measurement)
        if keys is None:
            parts = rule_readings.PANEL_PARTS.get(measurement, (measurement,))
            keys = keys_of[measurement] = tuple(rule_readings.rule_key(k) for k in parts)
        seen = last_seen[patient_id]
        for key in keys:
            earlier = seen.get(key)
            seen[key] = last_at if earlier is None or last_at > earlier else earlier
    devices: dict[str, dict[str, datetime]] = defaultdict(dict)
    for row in await observations.device_last_heard(conn):
        devices[row.patient_id][row.device_id] = row.last_at
    events: list[dict[str, Any]] = []
    patients = sorted(await careplans.active_with_plans(conn), key=lambda p: str(p.id))
    found_of: list[tuple[Any, list[alerts.Gap]]] = []
    for patient in patients:
        plan = careplan_service.cached_alerts_plan(
            patient.id, patient.plan_version, patient.protocol, patient.settings, patient.status
        )
        since = max(patient.enrolled_at, patient.active_since or patient.enrolled_at)
        found = alerts.gaps(
            plan, last_seen.get(patient.id, {}), devices.get(patient.id, {}), since, now
        )
        if found:
            found_of.append((patient, found))
    # A gap stays the same finding for a whole schedule period (a silence, until the device
    # speaks): most of what a tick finds was stored by a tick before. Those are set aside
    # with one look-up and their words never written; storing them again (which stores
    # nothing) cost statements for every silent patient, every tick.
    keyed = [(p, [(gap, _key(p.id, gap)) for gap in found]) for p, found in found_of]
    unstored = await repository.unstored_anchors(conn, [k for _, gaps in keyed for _, k in gaps])
    batch = [
        (
            queue_findings.Subject(patient.id, patient.centre_id, patient.plan_version),
            [gap.finding() for gap, key in gaps if key in unstored],
        )
        for patient, gaps in keyed
    ]
    # Stored set-based: a first tick over a region raises thousands of items, and one
    # patient at a time that was minutes of round trips (issue 18).
    raised = await queue_findings.record_many(conn, batch, now, events=events)
    await repository.add_events(conn, events)
    return f"{raised} new findings"


def _key(patient_id: str, gap: alerts.Gap) -> tuple[str, str, str]:
    return patient_id, str(gap.rule), queue_findings.gap_anchor(gap.what, gap.effective_at)


async def escalate_overdue(conn: AsyncConnection, now: datetime) -> str:
    """Red items not claimed, or not resolved, within their centre's service level."""
    escalated = 0
    events: list[dict[str, Any]] = []
    for row in await repository.overdue_items(conn, now):
        reason = "sla.claim" if row.state == ItemState.open.value else "sla.resolve"
        updated = await repository.update_item(
            conn,
            row.id,
            {"escalated_at": now, "escalation": reason, "updated_at": now},
            where=[repository.item.c.escalated_at.is_(None), repository.UNRESOLVED],
        )
        if updated is None:
            continue
        escalated += 1
        events.append(
            {
                "centre_id": row.centre_id,
                "patient_id": row.patient_id,
                "item_id": row.id,
                "kind": "escalated",
                "severity": row.severity,
                "actor": None,
                "detail": {"reason": reason},
                "at": now,
            }
        )
    await repository.add_events(conn, events)
    return f"{escalated} escalated"


async def wake_snoozed(conn: AsyncConnection, now: datetime) -> str:
    """Snoozed items whose time is up go back to the queue, waiting from now."""
    woken = 0
    events: list[dict[str, Any]] = []
    for row in await repository.snoozes_ended(conn, now):
        updated = await repository.update_item(
            conn,
            row.id,
            {"state": ItemState.open.value, "snoozed_until": None, "updated_at": now},
            where=[repository.item.c.state == ItemState.snoozed.value],
        )
        if updated is None:
            continue
        woken += 1
        events.append(
            {
                "centre_id": row.centre_id,
                "patient_id": row.patient_id,
                "item_id": row.id,
                "kind": "reopened",
                "severity": row.severity,
                "actor": None,
                "detail": {"reason": "snooze ended"},
                "at": now,
            }
        )
    await repository.add_events(conn, events)
    return f"{woken} woken"
