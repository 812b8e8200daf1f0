"""Research: studies with their centres and researchers, the per-patient date offsets
drawn once per study (never zero: a check constraint), and the export jobs that the
Bulk Data status URL and the export runner share.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db_types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "study",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("approval_reference", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("expires_at", service.db_types.UTCDateTime(), nullable=False),
        sa.Column("protocols", service.db_types.JSONType, nullable=False),
        sa.Column("enrolled_from", sa.Date(), nullable=True),
        sa.Column("enrolled_until", sa.Date(), nullable=True),
        sa.Column("variables", service.db_types.JSONType, nullable=False),
        sa.Column("k", sa.Integer(), nullable=False),
        sa.Column("max_suppressed_share", sa.Float(), nullable=False),
        sa.Column("time_mode", sa.String(length=16), nullable=False),
        sa.Column("time_precision", sa.String(length=8), nullable=False),
        sa.Column("max_offset_days", sa.Integer(), nullable=False),
        sa.Column("key_ciphertext", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", service.db_types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study")),
    )
    op.create_table(
        "study_centre",
        sa.Column("study_id", sa.String(length=36), nullable=False),
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_study_centre_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["study.id"], name=op.f("fk_study_centre_study_id_study")
        ),
        sa.PrimaryKeyConstraint("study_id", "centre_id", name=op.f("pk_study_centre")),
    )
    with op.batch_alter_table("study_centre", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_study_centre_centre_id"), ["centre_id"], unique=False)

    op.create_table(
        "study_researcher",
        sa.Column("study_id", sa.String(length=36), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["study_id"], ["study.id"], name=op.f("fk_study_researcher_study_id_study")
        ),
        sa.PrimaryKeyConstraint("study_id", "subject", name=op.f("pk_study_researcher")),
    )
    with op.batch_alter_table("study_researcher", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_study_researcher_subject"), ["subject"], unique=False)

    op.create_table(
        "study_patient_offset",
        sa.Column("study_id", sa.String(length=36), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.Column("offset_days", sa.Integer(), nullable=False),
        sa.Column("drawn_at", service.db_types.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "offset_days <> 0", name=op.f("ck_study_patient_offset_offset_not_zero")
        ),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_study_patient_offset_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
            name=op.f("fk_study_patient_offset_patient_id_patient"),
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["study.id"], name=op.f("fk_study_patient_offset_study_id_study")
        ),
        sa.PrimaryKeyConstraint("study_id", "patient_id", name=op.f("pk_study_patient_offset")),
    )
    op.create_table(
        "export_job",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("study_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("transaction_time", service.db_types.UTCDateTime(), nullable=False),
        sa.Column("created_at", service.db_types.UTCDateTime(), nullable=False),
        sa.Column("started_at", service.db_types.UTCDateTime(), nullable=True),
        sa.Column("heartbeat_at", service.db_types.UTCDateTime(), nullable=True),
        sa.Column("finished_at", service.db_types.UTCDateTime(), nullable=True),
        sa.Column("expires_at", service.db_types.UTCDateTime(), nullable=True),
        sa.Column("files", service.db_types.JSONType, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["study_id"], ["study.id"], name=op.f("fk_export_job_study_id_study")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_job")),
    )
    with op.batch_alter_table("export_job", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_export_job_status_created_at"), ["status", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_export_job_study_id_requested_by_status"),
            ["study_id", "requested_by", "status"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("export_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_export_job_study_id_requested_by_status"))
        batch_op.drop_index(batch_op.f("ix_export_job_status_created_at"))

    op.drop_table("export_job")
    op.drop_table("study_patient_offset")
    with op.batch_alter_table("study_researcher", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_study_researcher_subject"))

    op.drop_table("study_researcher")
    with op.batch_alter_table("study_centre", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_study_centre_centre_id"))

    op.drop_table("study_centre")
    op.drop_table("study")
