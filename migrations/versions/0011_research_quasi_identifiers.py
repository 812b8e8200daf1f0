"""Research: the patient attributes a study's reviewer declared non-identifying (with
the written justification), and the finest generalisation a study has released (what
an overlapping study's export is checked against).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db_types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.add_column(sa.Column("non_identifying", service.db_types.JSONType, nullable=True))
        batch_op.add_column(sa.Column("finest_level", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.drop_column("finest_level")
        batch_op.drop_column("non_identifying")
