"""Retractions: a reading may be updated to entered-in-error. Its earlier version is
kept in ``observation_version``; findings that rested on it are marked withdrawn.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db_types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("retracted_at", service.db_types.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("retracted_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("retracted_by_role", sa.String(length=16), nullable=True))
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("withdrawn_at", service.db_types.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("withdrawn_for", sa.String(length=36), nullable=True))
    op.create_table(
        "observation_version",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("observation_id", sa.String(length=36), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("last_updated", service.db_types.UTCDateTime(), nullable=False),
        sa.Column("superseded_at", service.db_types.UTCDateTime(), nullable=False),
        sa.Column("superseded_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_observation_version_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(
            ["observation_id"],
            ["observation.id"],
            name=op.f("fk_observation_version_observation_id_observation"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_observation_version_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observation_version")),
        sa.UniqueConstraint(
            "observation_id",
            "version_id",
            name=op.f("uq_observation_version_observation_id_version_id"),
        ),
    )


def downgrade() -> None:
    op.drop_table("observation_version")
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.drop_column("withdrawn_for")
        batch_op.drop_column("withdrawn_at")
    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.drop_column("retracted_by_role")
        batch_op.drop_column("retracted_by")
        batch_op.drop_column("retracted_at")
