"""Why a reading was not judged: a later read must not answer "green, as usual" for a
reading nobody looked at (follow-up paused, no care plan yet, imported history).

Existing readings are marked from the records that say what held when they arrived: the
patient's status history (paused) and the care plan's versions (none yet).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BACKFILL = [
    """
    UPDATE observation SET not_judged = 'no_care_plan'
    WHERE kind = 'measurement' AND NOT EXISTS (
        SELECT 1 FROM care_plan_version v
        WHERE v.patient_id = observation.patient_id AND v.changed_at <= observation.received_at
    )
    """,
    """
    UPDATE observation SET not_judged = 'paused'
    WHERE kind = 'measurement' AND not_judged IS NULL AND (
        SELECT c.status FROM patient_status_change c
        WHERE c.patient_id = observation.patient_id AND c.changed_at <= observation.received_at
        ORDER BY c.changed_at DESC LIMIT 1
    ) = 'paused'
    """,
]


def upgrade() -> None:
    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("not_judged", sa.String(length=16), nullable=True))
    for statement in _BACKFILL:
        op.execute(statement)


def downgrade() -> None:
    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.drop_column("not_judged")
