"""What each centre journals: ``journal_config.kinds`` (resolved items, the start, pause,
resume and end of follow-up, care-plan changes). Receivers configured before this
journal every kind, as a new one does by default.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db_types

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The kinds as they were when this revision was written (not imported: a migration
# must not change when the code does).
ALL_KINDS = (
    '["item_resolved", "follow_up_started", "follow_up_paused", "follow_up_resumed", '
    '"follow_up_ended", "care_plan_changed"]'
)


def upgrade() -> None:
    with op.batch_alter_table("journal_config", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kinds", service.db_types.JSONType, nullable=False, server_default=ALL_KINDS)
        )


def downgrade() -> None:
    with op.batch_alter_table("journal_config", schema=None) as batch_op:
        batch_op.drop_column("kinds")
