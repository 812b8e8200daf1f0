"""Answers to questionnaires (FHIR QuestionnaireResponse), stored verbatim and once.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db_types

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "questionnaire_response",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("questionnaire", sa.String(length=200), nullable=False),
        sa.Column("questionnaire_version", sa.String(length=32), nullable=False),
        sa.Column("authored_at", service.db_types.UTCDateTime(), nullable=False),
        sa.Column("received_at", service.db_types.UTCDateTime(), nullable=False),
        sa.Column("dedup_key", sa.String(length=64), nullable=False),
        sa.Column("answers", service.db_types.JSONType, nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("score_observation_id", sa.String(length=36), nullable=True),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_questionnaire_response_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
            name=op.f("fk_questionnaire_response_patient_id_patient"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaire_response")),
        sa.UniqueConstraint(
            "patient_id", "dedup_key", name=op.f("uq_questionnaire_response_patient_id_dedup_key")
        ),
    )
    with op.batch_alter_table("questionnaire_response", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_questionnaire_response_patient_id_authored_at_id"),
            ["patient_id", "authored_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_questionnaire_response_centre_id_authored_at"),
            ["centre_id", "authored_at"],
            unique=False,
        )


def downgrade() -> None:
    op.drop_table("questionnaire_response")
