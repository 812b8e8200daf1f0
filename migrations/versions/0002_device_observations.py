"""PHD gateways: device and context observations beside measurements, and the other
identifiers (a gateway's) by which a gateway Bundle finds an enrolled patient.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db_types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "patient_identifier",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("system", sa.String(length=200), nullable=False),
        sa.Column("value_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", service.db_types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_patient_identifier_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_patient_identifier_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_identifier")),
        sa.UniqueConstraint(
            "system", "value_hash", name=op.f("uq_patient_identifier_system_value_hash")
        ),
    )
    with op.batch_alter_table("patient_identifier", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_patient_identifier_patient_id"), ["patient_id"], unique=False
        )
    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="measurement")
        )
        batch_op.add_column(sa.Column("links", service.db_types.JSONType, nullable=True))
        batch_op.alter_column(
            "measurement", existing_type=sa.String(length=32), type_=sa.String(length=64)
        )


def downgrade() -> None:
    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.alter_column(
            "measurement", existing_type=sa.String(length=64), type_=sa.String(length=32)
        )
        batch_op.drop_column("links")
        batch_op.drop_column("kind")
    with op.batch_alter_table("patient_identifier", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patient_identifier_patient_id"))
    op.drop_table("patient_identifier")
