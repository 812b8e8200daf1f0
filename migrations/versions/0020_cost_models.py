"""Cost models: a municipality's prices in kroner, from a date on (issue #16).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db_types

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cost_model",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.Column("municipality", sa.String(length=4), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("nurse_hour", sa.Float(), nullable=False),
        sa.Column("hospital_bed_day", sa.Float(), nullable=False),
        sa.Column("hospital_admission", sa.Float(), nullable=False),
        sa.Column("emergency_primary_care_contact", sa.Float(), nullable=False),
        sa.Column("gp_consultation", sa.Float(), nullable=False),
        sa.Column("home_care_hour", sa.Float(), nullable=False),
        sa.Column("municipal_acute_bed_day", sa.Float(), nullable=False),
        sa.Column("running_cost_per_patient_month", sa.Float(), nullable=False),
        sa.Column("sources", sa.Text(), nullable=True),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.Column("set_at", service.db_types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_cost_model_centre_id_centre")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cost_model")),
        sa.UniqueConstraint(
            "centre_id",
            "municipality",
            "valid_from",
            name=op.f("uq_cost_model_centre_id_municipality_valid_from"),
        ),
    )


def downgrade() -> None:
    op.drop_table("cost_model")
