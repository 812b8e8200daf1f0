"""Indexes on a finding's item and reading: the queue page, the back-in-range check on
every in-band reading and a reading's verdict on a read each looked findings up by one
of them, and each was a sequential scan of every finding (issue 18 measured 42 ms per
statement at 86,000 findings).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_finding_item_id"), ["item_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_finding_observation_id"), ["observation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_finding_observation_id"))
        batch_op.drop_index(batch_op.f("ix_finding_item_id"))
