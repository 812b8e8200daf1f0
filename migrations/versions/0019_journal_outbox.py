"""The journal's outbox (journal_message) and each centre's receiver (journal_config).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db_types

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "journal_config",
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("items", sa.String(length=16), nullable=False),
        sa.Column("receiver_url", sa.String(length=500), nullable=False),
        sa.Column("token_url", sa.String(length=500), nullable=True),
        sa.Column("client_id", sa.String(length=200), nullable=True),
        sa.Column("private_key_path", sa.String(length=500), nullable=True),
        sa.Column("scope", sa.String(length=500), nullable=True),
        sa.Column("timeout_seconds", sa.Float(), nullable=False),
        sa.Column("updated_at", service.db_types.UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_journal_config_centre_id_centre")
        ),
        sa.PrimaryKeyConstraint("centre_id", name=op.f("pk_journal_config")),
    )
    op.create_table(
        "journal_message",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("item_id", sa.String(length=36), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", service.db_types.UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("bundle_identifier", sa.String(length=64), nullable=False),
        sa.Column("document", service.db_types.JSONType, nullable=False),
        sa.Column("created_at", service.db_types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", service.db_types.UTCDateTime(), nullable=False),
        sa.Column("sent_at", service.db_types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_journal_message_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_journal_message_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["triage_item.id"], name=op.f("fk_journal_message_item_id_triage_item")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_message")),
        sa.UniqueConstraint("bundle_identifier", name=op.f("uq_journal_message_bundle_identifier")),
    )
    with op.batch_alter_table("journal_message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_journal_message_state_next_attempt_at"), ["state", "next_attempt_at"]
        )
        batch_op.create_index(
            batch_op.f("ix_journal_message_patient_id_created_at"), ["patient_id", "created_at"]
        )
        batch_op.create_index(batch_op.f("ix_journal_message_item_id"), ["item_id"])
        batch_op.create_index(
            batch_op.f("ix_journal_message_centre_id_state"), ["centre_id", "state"]
        )


def downgrade() -> None:
    op.drop_table("journal_message")
    op.drop_table("journal_config")
