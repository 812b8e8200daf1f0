"""A reading's identity is what its device said, not the time we corrected.

Before this revision the dedup key of a reading without an ``identifier`` hashed its
clock-corrected time, so a reading re-sent after a newer coincident timestamp got a
new key and was stored twice. The key now hashes the device's own time
(``effective_original``). Rows stored before would never match a re-send under the
new rule, so their keys are recomputed here. Where two stored rows of one patient
turn out to be one reading (the duplicates this fixes), the first keeps the new key
and the others keep their old one: removing a copy would also have to withdraw the
findings that rest on it, which is not a migration's call.

The rule is frozen here on purpose: a later change of ``NormalisedReading.dedup_key``
must not rewrite this history (tests/ingest/test_identity.py holds the two together).
No schema change. Measured: 200,000 rows in about 10 s on SQLite and on PostgreSQL
(keyset batches of 1,000), so some 8 minutes for 10 million rows without identifier.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

import service.db_types

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1000

_observation = sa.table(
    "observation",
    sa.column("id", sa.String()),
    sa.column("patient_id", sa.String()),
    sa.column("device_id", sa.String()),
    sa.column("kind", sa.String()),
    sa.column("code", sa.String()),
    sa.column("components", service.db_types.JSONType),
    sa.column("effective_at", service.db_types.UTCDateTime()),
    sa.column("effective_original", sa.String()),
    sa.column("identifier_value", sa.String()),
    sa.column("dedup_key", sa.String()),
    sa.column("resource", sa.Text()),
)


def _values(row: Any) -> str:
    return ";".join(
        f"{c['code']}={float(c['original_value'])}{c['original_unit']}"
        for c in row.components or ()
    )


def _fingerprint(row: Any) -> str:
    """Device and context observations: a hash of their value elements as received."""
    if row.kind != "context":
        return ""
    resource = orjson.loads(row.resource)
    value_part = {
        k: v
        for k, v in resource.items()
        if k.startswith("value") or k in ("component", "dataAbsentReason")
    }
    return hashlib.sha256(orjson.dumps(value_part, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _as_the_device_said(original: str) -> str:
    parsed = datetime.fromisoformat(original.replace("Z", "+00:00"))
    if original.endswith("-00:00"):
        return "wall " + parsed.replace(tzinfo=None).isoformat()
    return parsed.astimezone(UTC).isoformat()


def identity_key(row: Any) -> str:
    """The key from revision 0014 on: the device's own time."""
    basis = (
        f"d|{row.code}|{_as_the_device_said(row.effective_original)}|{_values(row)}|"
        f"{_fingerprint(row)}|{row.device_id or ''}"
    )
    return hashlib.sha256(basis.encode()).hexdigest()


def corrected_time_key(row: Any) -> str:
    """The key before revision 0014: the clock-corrected time."""
    basis = (
        f"v|{row.code}|{row.effective_at.isoformat()}|{_values(row)}|{_fingerprint(row)}|"
        f"{row.device_id or ''}"
    )
    return hashlib.sha256(basis.encode()).hexdigest()


def rekey(bind: sa.Connection, key: Callable[[Any], str]) -> tuple[int, int]:
    """Recompute the key of every row without an identifier, patient by patient, in
    batches. Answers (rows changed, rows that kept their old key because another row
    of the patient holds the new one)."""
    changed = kept = 0
    # Keyset paging on the (patient_id, effective_at, id) index: no batch sorts the table.
    order = (_observation.c.patient_id, _observation.c.effective_at, _observation.c.id)
    after: tuple[Any, ...] | None = None
    taken: set[str] = set()
    while True:
        query = sa.select(_observation).where(_observation.c.identifier_value.is_(None))
        if after is not None:
            query = query.where(sa.tuple_(*order) > after)
        batch = bind.execute(query.order_by(*order).limit(_BATCH)).all()
        if not batch:
            return changed, kept
        changes = []
        for row in batch:
            if after is None or row.patient_id != after[0]:
                taken = set()
            after = (row.patient_id, row.effective_at, row.id)
            new = key(row)
            if new in taken:
                kept += 1
                continue
            taken.add(new)
            if new != row.dedup_key:
                changes.append({"row_id": row.id, "new_key": new})
        if changes:
            changed += len(changes)
            bind.execute(
                _observation.update()
                .where(_observation.c.id == sa.bindparam("row_id"))
                .values(dedup_key=sa.bindparam("new_key")),
                changes,
            )


def upgrade() -> None:
    rekey(op.get_bind(), identity_key)


def downgrade() -> None:
    rekey(op.get_bind(), corrected_time_key)
