"""What an export reads of the cohort: one keyset page of one patient's rows of a kind at
a time, never whole tables, and only the columns an export may use (the verbatim FHIR
JSON, notes and identities are not selected). Each kind's table and columns are here;
its time and storage columns are named by ``kinds.KINDS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.ingest.models import ENTERED_IN_ERROR, Observation
from service.queue.models import WITHDRAWN, Finding, TriageItem
from service.research import kinds
from service.resource_use.models import ExternalEvent, ResourceUseEvent
from service.tenancy import patients_in_study

observation = Observation.__table__  # type: ignore[attr-defined]
finding = Finding.__table__  # type: ignore[attr-defined]
item = TriageItem.__table__  # type: ignore[attr-defined]
nurse_event = ResourceUseEvent.__table__  # type: ignore[attr-defined]
external = ExternalEvent.__table__  # type: ignore[attr-defined]

# ``records.Mapper.reading_row`` unpacks a reading in this order (the export's hot path).
READING_COLUMNS = (
    observation.c.id,
    observation.c.measurement,
    observation.c.code,
    observation.c.status,
    observation.c.value,
    observation.c.unit,
    observation.c.components,
    observation.c.effective_at,
    observation.c.time_doubtful,
)
FINDING_COLUMNS = tuple(
    finding.c[n]
    for n in (
        "id",
        "item_id",
        "observation_id",
        "rule",
        "severity",
        "measurement",
        "direction",
        "reading_ids",
        "value",
        "threshold",
        "late",
        "technical",
        "critical",
        "snoozed",
        "effective_at",
    )
)
ITEM_COLUMNS = tuple(
    item.c[n]
    for n in (
        "id",
        "severity",
        "state",
        "critical",
        "technical",
        "back_in_range",
        "opened_at",
        "claimed_at",
        "resolved_at",
        "outcome",
        "actions",
        "minutes",
        "escalation",
    )
)
NURSE_EVENT_COLUMNS = tuple(
    nurse_event.c[n] for n in ("id", "item_id", "action", "minutes", "occurred_at")
)
EXTERNAL_COLUMNS = tuple(
    external.c[n] for n in ("id", "kind", "started_at", "ended_at", "hours_per_week")
)


@dataclass(frozen=True)
class _Source:
    table: Any
    columns: tuple[Any, ...]
    at: Any  # the row's time: the window, the order and the keyset
    recorded: Any  # when it was stored: the export's cut
    extra: tuple[Any, ...] = ()


def _head(table: Any) -> Any:
    """Rows nothing corrects: each correction chain's current row."""
    later = table.alias("later")
    return ~sa.exists().where(later.c.corrects == table.c.id)


# Each kind's table, the columns an export may use, and what else a row must meet; its
# time and storage columns are named by ``kinds.KINDS``.
_TABLES: dict[str, tuple[Any, tuple[Any, ...], tuple[Any, ...]]] = {
    # A retracted reading (entered-in-error) was never a measurement of the patient; findings
    # withdrawn with it, and items closed for want of any finding, are history of an error.
    "readings": (
        observation,
        READING_COLUMNS,
        (observation.c.kind == "measurement", observation.c.status != ENTERED_IN_ERROR),
    ),
    "findings": (finding, FINDING_COLUMNS, (finding.c.withdrawn_at.is_(None),)),
    "items": (item, ITEM_COLUMNS, (item.c.outcome.is_distinct_from(WITHDRAWN),)),
    "nurse_actions": (
        nurse_event,
        NURSE_EVENT_COLUMNS,
        (_head(nurse_event), nurse_event.c.retracted.is_(False)),
    ),
    "external": (external, EXTERNAL_COLUMNS, (_head(external), external.c.retracted.is_(False))),
}
assert set(_TABLES) == set(kinds.KINDS), "every kind of row needs its source table"


def _source(name: str) -> _Source:
    kind = kinds.KINDS[name]
    table, columns, extra = _TABLES[name]
    return _Source(table, columns, table.c[kind.at], table.c[kind.recorded], extra)


async def page(
    conn: AsyncConnection,
    kind: str,
    patient_id: str,
    window: tuple[datetime, datetime],
    cut: datetime,
    after: tuple[datetime, str] | None,
    limit: int,
) -> Sequence[Row[Any]]:
    """One keyset page of a patient's rows of ``kind`` in the study's window, recorded
    by the export's cut, ordered by (time, id)."""
    source = _source(kind)
    table, at = source.table, source.at
    query: Any = (
        sa.select(*source.columns)
        .where(table.c.patient_id == patient_id, at >= window[0], at < window[1])
        .where(source.recorded <= cut, *source.extra)
        .order_by(at, table.c.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(sa.or_(at > after[0], sa.and_(at == after[0], table.c.id > after[1])))
    return (await conn.execute(query)).all()


async def counts(
    conn: AsyncConnection,
    kind: str,
    centre_ids: Sequence[str],
    window: tuple[datetime, datetime],
    cut: datetime,
) -> dict[str, int]:
    """Rows of ``kind`` per patient of the study's centres: the progress denominator and
    the report's count of suppressed records."""
    source = _source(kind)
    table, at = source.table, source.at
    query = (
        sa.select(table.c.patient_id, sa.func.count())
        .where(patients_in_study(centre_ids, table), at >= window[0], at < window[1])
        .where(source.recorded <= cut, *source.extra)
        .group_by(table.c.patient_id)
    )
    return {patient_id: int(n) for patient_id, n in await conn.execute(query)}
