"""Storing and finding readings. Core SQL, not the ORM: this is the hot path.

Inserts are idempotent by construction: ``ON CONFLICT DO NOTHING`` on the
(patient, dedup_key) constraint, on both PostgreSQL and SQLite, so concurrent
duplicates resolve in the database rather than in a race between two checks.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal
from service.database import insert_once
from service.db_types import UTCDateTime
from service.devices.models import DeviceLoan
from service.ingest.models import (
    ENTERED_IN_ERROR,
    DeviceLastHeard,
    Observation,
    ReadingLastSeen,
)
from service.tenancy import measurements_visible_to

observation = Observation.__table__  # type: ignore[attr-defined]
device_loan = DeviceLoan.__table__  # type: ignore[attr-defined]
last_seen = ReadingLastSeen.__table__  # type: ignore[attr-defined]
last_heard = DeviceLastHeard.__table__  # type: ignore[attr-defined]
# Retracted readings are no evidence of anything: every query that counts or judges
# readings leaves them out.
NOT_RETRACTED = observation.c.status != ENTERED_IN_ERROR


async def insert_new(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Insert the rows not already stored; answer the ids of those inserted."""
    if not rows:
        return set()
    statement = insert_once(observation, conn.dialect.name, ("patient_id", "dedup_key"))
    result = await conn.execute(statement, list(rows))
    return {row.id for row in result}


async def mark_not_judged(
    conn: AsyncConnection, observation_ids: Sequence[str], reason: str
) -> None:
    await conn.execute(
        sa.update(observation)
        .where(observation.c.id.in_(list(observation_ids)))
        .values(not_judged=reason)
    )


async def find_by_dedup(
    conn: AsyncConnection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], Row[Any]]:
    """Stored rows by (patient_id, dedup_key): what a repeated post answers with."""
    if not keys:
        return {}
    query = sa.select(observation).where(
        sa.tuple_(observation.c.patient_id, observation.c.dedup_key).in_(list(keys))
    )
    return {(r.patient_id, r.dedup_key): r for r in await conn.execute(query)}


async def coincident_timestamp(
    conn: AsyncConnection, patient_id: str, observation_id: str
) -> Row[Any] | None:
    """A stored coincident timestamp of the patient's devices, that a reading of theirs
    references: its device, gateway time and verbatim resource (the device's time)."""
    query = sa.select(
        observation.c.device_id, observation.c.effective_at, observation.c.resource
    ).where(
        observation.c.id == observation_id,
        observation.c.patient_id == patient_id,
        observation.c.measurement == "coincident_timestamp",
    )
    return (await conn.execute(query)).first()


async def newest_coincident_timestamp(
    conn: AsyncConnection, patient_id: str, code: str, device_id: str
) -> datetime | None:
    """The gateway time of the newest stored coincident timestamp of the patient's
    device (on the (patient, code, time) index)."""
    query = sa.select(sa.func.max(observation.c.effective_at)).where(
        observation.c.patient_id == patient_id,
        observation.c.code == code,
        observation.c.device_id == device_id,
    )
    newest: datetime | None = (await conn.execute(query)).scalar_one()
    return newest


async def get_visible(
    conn: AsyncConnection, principal: Principal, observation_id: str
) -> Row[Any] | None:
    query = sa.select(observation).where(
        observation.c.id == observation_id, measurements_visible_to(principal, observation)
    )
    return (await conn.execute(query)).first()


async def search_visible(
    conn: AsyncConnection,
    principal: Principal,
    *,
    patient_id: str | None,
    codes: Sequence[str] | None,
    date_bounds: Sequence[tuple[str, datetime]],
    newest_first: bool,
    after: tuple[datetime, str] | None,
    limit: int,
    statuses: Sequence[str] | None = None,
) -> Sequence[Row[Any]]:
    """``statuses`` None: every reading but the retracted ones (fhir/README.md)."""
    query = sa.select(observation).where(measurements_visible_to(principal, observation))
    if statuses is None:
        query = query.where(NOT_RETRACTED)
    else:
        query = query.where(observation.c.status.in_(list(statuses)))
    if patient_id is not None:
        query = query.where(observation.c.patient_id == patient_id)
    if codes is not None:
        query = query.where(observation.c.code.in_(list(codes)))
    for operator, bound in date_bounds:
        query = query.where(_compare(observation.c.effective_at, operator, bound))
    order = (observation.c.effective_at, observation.c.id)
    if after is not None:
        key = sa.tuple_(*order)
        query = query.where(key < tuple(after) if newest_first else key > tuple(after))
    query = query.order_by(*(c.desc() for c in order) if newest_first else order)
    return (await conn.execute(query.limit(limit))).all()


def _compare(column: Any, operator: str, bound: datetime) -> Any:
    return {
        "eq": column == bound,
        "ge": column >= bound,
        "gt": column > bound,
        "le": column <= bound,
        "lt": column < bound,
    }[operator]


RECENT_COLUMNS = (
    observation.c.id,
    observation.c.patient_id,
    observation.c.device_id,
    observation.c.measurement,
    observation.c.components,
    observation.c.effective_at,
    observation.c.received_at,
)


async def recent_measurements(
    conn: AsyncConnection, patient_ids: Sequence[str], since: datetime, *, limit: int = 2000
) -> Sequence[Row[Any]]:
    """The patients' measurements taken since ``since``, newest first (trends for the
    queue, replays for a care-plan preview). Context observations are not evidence."""
    query: Any = (
        sa.select(*RECENT_COLUMNS)
        .where(
            observation.c.patient_id.in_(list(patient_ids)),
            observation.c.effective_at >= since,
            observation.c.kind == "measurement",
            NOT_RETRACTED,
        )
        .order_by(observation.c.effective_at.desc())
        .limit(limit)
    )
    return (await conn.execute(query)).all()


_NEWEST_OF_PAIRS = (
    sa.text(
        """SELECT o.id, o.patient_id, o.device_id, o.measurement, o.components,
            o.effective_at, o.received_at
        FROM unnest(CAST(:p AS text[]), CAST(:m AS text[])) AS k(p, m)
        CROSS JOIN LATERAL (
            SELECT * FROM observation
            WHERE patient_id = k.p AND measurement = k.m AND effective_at >= :since
                AND kind = 'measurement' AND status != 'entered-in-error'
            ORDER BY effective_at DESC LIMIT :n
        ) AS o
        ORDER BY o.effective_at DESC"""
    )
    .bindparams(sa.bindparam("since", type_=UTCDateTime()))
    .columns(*RECENT_COLUMNS)
)


async def newest_of_pairs(
    conn: AsyncConnection, pairs: Sequence[tuple[str, str]], since: datetime, per_pair: int
) -> Sequence[Row[Any]]:
    """PostgreSQL: the newest ``per_pair`` measurements since ``since`` of each
    (patient, stored measurement), newest first, each pair on the patient's index (the
    queue's trends: a few points each, not every reading of the page's patients)."""
    if not pairs:
        return []
    patients, measurements = (list(part) for part in zip(*pairs, strict=True))
    values = {"p": patients, "m": measurements, "since": since, "n": per_pair}
    return (await conn.execute(_NEWEST_OF_PAIRS, values)).all()


@functools.cache
def evidence_query() -> Any:
    """Built once: it runs for every judged reading."""
    return (
        sa.select(*RECENT_COLUMNS)
        .where(
            observation.c.patient_id == sa.bindparam("patient_id"),
            observation.c.kind == "measurement",
            NOT_RETRACTED,
            sa.or_(
                sa.and_(
                    observation.c.measurement.in_(sa.bindparam("measurements", expanding=True)),
                    observation.c.effective_at >= sa.bindparam("since", type_=UTCDateTime()),
                ),
                observation.c.effective_at.between(
                    sa.bindparam("from_", type_=UTCDateTime()),
                    sa.bindparam("to", type_=UTCDateTime()),
                ),
            ),
        )
        .order_by(observation.c.effective_at.desc())
        .limit(sa.bindparam("limit"))
    )


async def triage_evidence(
    conn: AsyncConnection,
    patient_id: str,
    measurements: Sequence[str],
    since: datetime,
    around: tuple[datetime, datetime],
    limit: int,
) -> Sequence[Row[Any]]:
    """What the rules may rest a new reading's verdict on: the patient's earlier
    readings of the same measurements since ``since`` (runs, trends), and any reading
    taken within ``around`` (a NEWS2 set), newest first and at most ``limit``.

    Bounded by measurement rather than by time alone, so a device that floods one
    measurement cannot push another's evidence (yesterday's weight) out of reach.
    """
    values = {
        "patient_id": patient_id,
        "measurements": list(measurements),
        "since": since,
        "from_": around[0],
        "to": around[1],
        "limit": limit,
    }
    return (await conn.execute(evidence_query(), values)).all()


async def note_last_seen(conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Keep ``reading_last_seen`` and ``device_last_heard`` up with newly stored rows:
    a reading older than the one kept (a late one, a gateway's backlog) changes nothing.
    One row per key, in key order: two requests for one patient lock the rows in the
    same order, and one statement never updates a row twice."""
    seen: dict[tuple[str, str], tuple[str, datetime]] = {}
    heard: dict[tuple[str, str], tuple[str, datetime]] = {}
    for row in rows:
        if row["kind"] == "measurement" and row["status"] != ENTERED_IN_ERROR:
            key = (row["patient_id"], row["measurement"])
            if key not in seen or row["effective_at"] > seen[key][1]:
                seen[key] = (row["centre_id"], row["effective_at"])
        if row["device_id"] is not None and row.get("not_judged") != "history":
            key = (row["patient_id"], row["device_id"])
            if key not in heard or row["received_at"] > heard[key][1]:
                heard[key] = (row["centre_id"], row["received_at"])
    if seen:
        await conn.execute(
            _newest_upsert(conn.dialect.name, "reading_last_seen"),
            [
                {"patient_id": p, "measurement": m, "centre_id": c, "last_at": at}
                for (p, m), (c, at) in sorted(seen.items())
            ],
        )
    if heard:
        await conn.execute(
            _newest_upsert(conn.dialect.name, "device_last_heard"),
            [
                {"patient_id": p, "device_id": d, "centre_id": c, "last_at": at}
                for (p, d), (c, at) in sorted(heard.items())
            ],
        )


@functools.cache
def _newest_upsert(dialect: str, table_name: str) -> Any:
    table = last_seen if table_name == "reading_last_seen" else last_heard
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=[c.name for c in table.primary_key.columns],
        set_={"last_at": statement.excluded.last_at},
        where=statement.excluded.last_at > table.c.last_at,
    )


async def recount_last_seen(conn: AsyncConnection, patient_id: str, measurement: str) -> None:
    """After a retraction: the newest reading of the measurement that still stands (on
    the patient's (patient, time) index), or no row when none does."""
    newest_query = sa.select(sa.func.max(observation.c.effective_at)).where(
        observation.c.patient_id == patient_id,
        observation.c.measurement == measurement,
        observation.c.kind == "measurement",
        NOT_RETRACTED,
    )
    newest: datetime | None = (await conn.execute(newest_query)).scalar_one()
    key = (last_seen.c.patient_id == patient_id, last_seen.c.measurement == measurement)
    if newest is None:
        await conn.execute(sa.delete(last_seen).where(*key))
    else:
        await conn.execute(sa.update(last_seen).where(*key).values(last_at=newest))


async def latest_per_measurement(conn: AsyncConnection) -> Sequence[Row[Any]]:
    """(patient, measurement, newest effective_at) of every patient: the missing-reading
    scan's input, one row per patient and measurement (kept at ingest)."""
    query = sa.select(last_seen.c.patient_id, last_seen.c.measurement, last_seen.c.last_at)
    return (await conn.execute(query)).all()


async def device_last_heard(conn: AsyncConnection) -> Sequence[Row[Any]]:
    """(patient, device, last received_at) for every device that sent a reading and
    that the patient still holds: a kit handed back is not silent, it is gone. Imported
    history was received today but says nothing about the device being in use now
    (``note_last_seen`` never counts it)."""
    held = sa.exists().where(
        device_loan.c.device_id == last_heard.c.device_id,
        device_loan.c.patient_id == last_heard.c.patient_id,
        device_loan.c.returned_at.is_(None),
    )
    query = sa.select(last_heard.c.patient_id, last_heard.c.device_id, last_heard.c.last_at).where(
        held
    )
    return (await conn.execute(query)).all()
