"""Messages between a patient and their centre (FHIR Communication).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db_types

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "message",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("sender", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("in_response_to", sa.String(length=36), nullable=True),
        sa.Column("sent_at", service.db_types.UTCDateTime(), nullable=False),
        sa.Column("read_at", service.db_types.UTCDateTime(), nullable=True),
        sa.Column("read_by", sa.String(length=200), nullable=True),
        sa.Column("dedup_key", sa.String(length=64), nullable=False),
        sa.Column("attachment_type", sa.String(length=32), nullable=True),
        sa.Column("attachment", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_message_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_message_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message")),
        sa.UniqueConstraint(
            "patient_id", "dedup_key", name=op.f("uq_message_patient_id_dedup_key")
        ),
    )
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_message_patient_id_sent_at_id"), ["patient_id", "sent_at", "id"]
        )
        batch_op.create_index(batch_op.f("ix_message_centre_id_read_at"), ["centre_id", "read_at"])


def downgrade() -> None:
    op.drop_table("message")
