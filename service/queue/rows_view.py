"""How a page of queue items is shown: each item with its patient, findings, the trend
of the measurements they are about, waiting messages and the journal state, read for
the whole page at once (a query per kind, never per item: issue 18).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.ingest import repository as observations
from service.journal import service as journal
from service.messages import repository as messages
from service.queue import readings as rule_readings
from service.queue import repository
from service.queue.schemas import FindingRead, QueueRow, TrendPoint

TREND_POINTS = 7
TREND_DAYS = 14


async def rows(
    conn: AsyncConnection,
    rows: Sequence[Row[Any]],
    now: datetime,
    zone: ZoneInfo,
    trend_points: int = TREND_POINTS,
) -> list[QueueRow]:
    ids = [r.id for r in rows]
    found = await repository.findings_of_items(conn, ids)
    trends = await _trends(conn, rows, found, now, trend_points)
    waiting = await messages.waiting_of_patients(conn, [r.patient_id for r in rows])
    journals = await journal.item_journals(conn, [r.id for r in rows if r.resolved_at])
    today = now.astimezone(zone).date()
    return [
        QueueRow(
            id=r.id,
            centre_id=r.centre_id,
            patient_id=r.patient_id,
            patient_name=f"{r.given_name} {r.family_name}",
            age=_age(r.birth_date, today),
            sex=r.sex,
            municipality=r.municipality,
            protocol=r.protocol,
            severity=r.severity,
            critical=r.critical,
            technical=r.technical,
            state=r.state,
            back_in_range=r.back_in_range,
            opened_at=r.opened_at,
            waiting_since=r.waiting_since,
            waiting_minutes=max(0, int((now - r.waiting_since).total_seconds() // 60)),
            claimed_by=r.claimed_by,
            claimed_at=r.claimed_at,
            snoozed_until=r.snoozed_until,
            escalated_at=r.escalated_at,
            escalation=r.escalation,
            resolved_at=r.resolved_at,
            outcome=r.outcome,
            findings=[FindingRead.model_validate(f) for f in found.get(r.id, [])],
            trends=trends.get(r.patient_id, {}),
            messages_waiting=waiting.get(r.patient_id, 0),
            journal=journals.get(r.id),
        )
        for r in rows
    ]


async def _trends(
    conn: AsyncConnection,
    rows: Sequence[Row[Any]],
    found: dict[str, list[Row[Any]]],
    now: datetime,
    points_wanted: int = TREND_POINTS,
) -> dict[str, dict[str, list[TrendPoint]]]:
    """The last readings of each measurement an item's findings are about: one query
    for the whole page."""
    wanted = {
        r.patient_id: {f.measurement for f in found.get(r.id, []) if f.measurement} for r in rows
    }
    patients = [p for p, measurements in wanted.items() if measurements]
    if not patients:
        return {}
    since = now - timedelta(days=TREND_DAYS)
    if conn.dialect.name == "postgresql":
        # A few points of each series, each on the patient's index: the whole fortnight
        # of the page's patients was 3,800 rows decoded for ~1,100 points (issue 18).
        pairs = [(p, m) for p in patients for m in _stored_measurements(wanted[p])]
        newest = await observations.newest_of_pairs(conn, pairs, since, points_wanted)
        trends = _trend_points(newest, wanted, points_wanted)
        if _complete(trends, newest, wanted, points_wanted):
            return trends
    recent = await observations.recent_measurements(conn, patients, since, limit=20_000)
    return _trend_points(recent, wanted, points_wanted)


def _stored_measurements(rule_keys: set[str]) -> list[str]:
    """The stored measurements whose values the rules name by one of ``rule_keys``: a
    panel (blood pressure: systolic, diastolic), the key itself, a renamed key."""
    stored = set(rule_keys)
    for measurement, parts in rule_readings.PANEL_PARTS.items():
        if rule_keys & {rule_readings.rule_key(p) for p in parts}:
            stored.add(measurement)
    stored.update(m for m, key in rule_readings.RULE_KEYS.items() if key in rule_keys)
    return sorted(stored)


def _complete(
    trends: dict[str, dict[str, list[TrendPoint]]],
    rows: Sequence[Row[Any]],
    wanted: dict[str, set[str]],
    points_wanted: int,
) -> bool:
    """Whether the newest rows of each pair gave every series all the points it could
    have: a series short of points while a stored measurement that carries it filled
    its quota (a panel stored without that part) may have more further back."""
    filled: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row.patient_id, row.measurement)
        filled[key] = filled.get(key, 0) + 1
    for patient_id, measurements in wanted.items():
        series = trends.get(patient_id, {})
        for measurement in measurements:
            if len(series.get(measurement, [])) >= points_wanted:
                continue
            carriers = _stored_measurements({measurement})
            if any(filled.get((patient_id, s), 0) >= points_wanted for s in carriers):
                return False
    return True


def _trend_points(
    recent: Sequence[Row[Any]], wanted: dict[str, set[str]], points_wanted: int
) -> dict[str, dict[str, list[TrendPoint]]]:
    trends: dict[str, dict[str, list[TrendPoint]]] = {}
    for row in recent:  # newest first
        # The values as the rules name them (rule_readings), read straight from the row:
        # a page of 200 reads thousands of rows for a few points each, and making each
        # an alerts.Reading first was most of the page's time (issue 18).
        measurements = wanted[row.patient_id]
        for component in row.components or ():
            value = component.get("value")
            measurement = rule_readings.rule_key(component["measurement"])
            if value is None or measurement not in measurements:
                continue
            points = trends.setdefault(row.patient_id, {}).setdefault(measurement, [])
            if len(points) < points_wanted:
                # Stored values, typed already: built without validating each again.
                point = TrendPoint.model_construct(
                    effective_at=row.effective_at, value=float(value)
                )
                points.append(point)
    for series in trends.values():
        for points in series.values():
            points.reverse()
    return trends


def _age(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
