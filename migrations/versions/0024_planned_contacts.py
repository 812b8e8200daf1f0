"""Planned contacts: the centre's next call, video call or visit, shown on the tablet.

Revision ID: 0024
Revises: 0020
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db_types

revision: str = "0024"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "planned_contact",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("planned_at", service.db_types.UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("planned_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", service.db_types.UTCDateTime(), nullable=False),
        sa.Column("cancelled_at", service.db_types.UTCDateTime(), nullable=True),
        sa.Column("cancelled_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_planned_contact_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_planned_contact_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_planned_contact")),
    )
    with op.batch_alter_table("planned_contact", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_planned_contact_patient_id_planned_at"), ["patient_id", "planned_at"]
        )


def downgrade() -> None:
    op.drop_table("planned_contact")
