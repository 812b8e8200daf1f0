"""One reading, its last-seen rows and its audit record in one round trip.

The single-Observation POST is the hot path: stored one after the other, the reading,
the per-patient last-seen row, the device's last-heard row and the audit record cost
four statements, each a round trip and a parse on the server. On PostgreSQL they are
one statement of data-modifying CTEs::

    WITH obs AS (INSERT INTO observation ... ON CONFLICT DO NOTHING RETURNING ...),
         seen AS (INSERT INTO reading_last_seen SELECT ... FROM obs ... ON CONFLICT ...),
         heard AS (INSERT INTO device_last_heard SELECT ... FROM obs ... ON CONFLICT ...),
         audit AS (INSERT INTO audit_event SELECT ... WHERE EXISTS (SELECT FROM obs))
    SELECT id FROM obs

Every CTE runs exactly once whether or not the outer query reads it, and all of them
read ``obs``, the row this statement inserted: a repeat (the conflict) stores nothing,
moves no last-seen row and writes no creation record (the caller records the repeat,
answered 200, with the stored reading's id). The rules of ``repository.note_last_seen``
are the same in SQL: a measurement that is not retracted moves ``reading_last_seen``,
a device's reading that is not imported history moves ``device_last_heard``, and an
older time never overwrites a newer one.

SQLite (the embedded default) takes the plain path: the same writes, one statement each.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from service.audit import repository as audit_repository
from service.ingest import repository
from service.ingest.models import ENTERED_IN_ERROR
from service.ingest.triage_seam import EvidenceWanted

observation = repository.observation
audit_event = audit_repository.audit_event


async def insert_one(
    conn: AsyncConnection,
    row: Mapping[str, Any],
    audit_row: Mapping[str, Any],
    wanted: EvidenceWanted | None = None,
) -> tuple[bool, Sequence[Any] | None]:
    """Store ``row`` unless its (patient, dedup key) is stored; if it was new, keep the
    last-seen rows up with it and write ``audit_row``. Answers whether it was new and,
    when the judge ``wanted`` the patient's earlier readings, those rows (read in the
    same statement on PostgreSQL; None: the judge reads them itself)."""
    if conn.dialect.name != "postgresql":
        created = bool(await repository.insert_new(conn, [dict(row)]))
        if created:
            await repository.note_last_seen(conn, [row])
            await audit_repository.insert(conn, [dict(audit_row)])
        return created, None
    statement = _statement(tuple(row), tuple(audit_row), wanted is not None)
    values = {f"o_{k}": v for k, v in row.items()}
    values.update({f"a_{k}": v for k, v in audit_row.items()})
    if wanted is None:
        return (await conn.execute(statement, values)).first() is not None, None
    values.update(
        patient_id=wanted.patient_id,
        measurements=list(wanted.measurements),
        since=wanted.since,
        from_=wanted.around[0],
        to=wanted.around[1],
        limit=wanted.limit,
    )
    rows = (await conn.execute(statement, values)).all()
    return any(r.new for r in rows), [r for r in rows if not r.new]


@functools.cache
def _statement(
    row_columns: tuple[str, ...], audit_columns: tuple[str, ...], with_evidence: bool
) -> Any:
    """Built once per shape of row (the columns a reading sets vary a little)."""
    obs = (
        postgresql.insert(observation)
        .values({c: sa.bindparam(f"o_{c}", type_=observation.c[c].type) for c in row_columns})
        .on_conflict_do_nothing(index_elements=["patient_id", "dedup_key"])
        .returning(
            observation.c.id,
            observation.c.centre_id,
            observation.c.patient_id,
            observation.c.device_id,
            observation.c.kind,
            observation.c.measurement,
            observation.c.status,
            observation.c.components,
            observation.c.effective_at,
            observation.c.received_at,
            observation.c.not_judged,
        )
        .cte("obs")
    )
    seen_table = repository.last_seen
    seen_insert = postgresql.insert(seen_table).from_select(
        ["patient_id", "measurement", "centre_id", "last_at"],
        sa.select(obs.c.patient_id, obs.c.measurement, obs.c.centre_id, obs.c.effective_at).where(
            obs.c.kind == "measurement", obs.c.status != ENTERED_IN_ERROR
        ),
    )
    seen = seen_insert.on_conflict_do_update(
        index_elements=["patient_id", "measurement"],
        set_={"last_at": seen_insert.excluded.last_at},
        where=seen_insert.excluded.last_at > seen_table.c.last_at,
    ).cte("seen")
    heard_table = repository.last_heard
    heard_insert = postgresql.insert(heard_table).from_select(
        ["patient_id", "device_id", "centre_id", "last_at"],
        sa.select(obs.c.patient_id, obs.c.device_id, obs.c.centre_id, obs.c.received_at).where(
            obs.c.device_id.is_not(None), obs.c.not_judged.is_distinct_from("history")
        ),
    )
    heard = heard_insert.on_conflict_do_update(
        index_elements=["patient_id", "device_id"],
        set_={"last_at": heard_insert.excluded.last_at},
        where=heard_insert.excluded.last_at > heard_table.c.last_at,
    ).cte("heard")
    # asyncpg's dialect renders each parameter with its type ($1::VARCHAR), so none is
    # taken for text in the SELECT list (no CAST to VARCHAR(n), which would truncate).
    audit_values = [sa.bindparam(f"a_{c}", type_=audit_event.c[c].type) for c in audit_columns]
    audit = (
        sa.insert(audit_event)
        .from_select(list(audit_columns), sa.select(*audit_values).where(sa.exists(obs.select())))
        .cte("audit")
    )
    if not with_evidence:
        return sa.select(obs.c.id).add_cte(seen, heard, audit)
    # The judge's evidence, read in the statement's snapshot: the patient's readings
    # before this one (``alerts.evaluate`` is given the new one apart).
    earlier = repository.evidence_query().subquery("earlier")
    columns = [c.name for c in repository.RECENT_COLUMNS]
    return sa.union_all(
        sa.select(sa.literal(True).label("new"), *(obs.c[c] for c in columns)),
        sa.select(sa.literal(False).label("new"), *(earlier.c[c] for c in columns)),
    ).add_cte(obs, seen, heard, audit)
