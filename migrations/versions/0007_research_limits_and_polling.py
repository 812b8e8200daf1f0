"""Research: a study's top- and bottom-coding limits, and the time of an export's last
status poll (too frequent polls are answered 429, as Bulk Data allows).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db_types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.add_column(sa.Column("value_limits", service.db_types.JSONType, nullable=True))
    with op.batch_alter_table("export_job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("polled_at", service.db_types.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("export_job", schema=None) as batch_op:
        batch_op.drop_column("polled_at")
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.drop_column("value_limits")
