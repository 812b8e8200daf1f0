"""Triage: versioned care plans, findings, one unresolved item per patient, the
per-centre event sequence, snoozes, and the job ticks that keep worker replicas apart.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db_types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_run",
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("tick", sa.BigInteger(), nullable=False),
        sa.Column("ran_at", service.db_types.UTCDateTime(), nullable=False),
        sa.Column("result", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("job", "tick", name=op.f("pk_job_run")),
    )
    op.create_table(
        "queue_policy",
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.Column("red_claim_minutes", sa.Integer(), nullable=False),
        sa.Column("red_resolve_minutes", sa.Integer(), nullable=False),
        sa.Column("last_event_seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_queue_policy_centre_id_centre")
        ),
        sa.PrimaryKeyConstraint("centre_id", name=op.f("pk_queue_policy")),
    )
    op.create_table(
        "care_plan_version",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("protocol", sa.String(length=32), nullable=False),
        sa.Column("settings", service.db_types.JSONType, nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("changed_by", sa.String(length=200), nullable=False),
        sa.Column("changed_by_role", sa.String(length=16), nullable=False),
        sa.Column("changed_at", service.db_types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_care_plan_version_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_care_plan_version_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_plan_version")),
        sa.UniqueConstraint(
            "patient_id", "version", name=op.f("uq_care_plan_version_patient_id_version")
        ),
    )
    op.create_table(
        "triage_item",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("critical", sa.Boolean(), nullable=False),
        sa.Column("technical", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("opened_at", service.db_types.UTCDateTime(), nullable=False),
        sa.Column("waiting_since", service.db_types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", service.db_types.UTCDateTime(), nullable=False),
        sa.Column("back_in_range", sa.Boolean(), nullable=False),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        sa.Column("claimed_at", service.db_types.UTCDateTime(), nullable=True),
        sa.Column("snoozed_until", service.db_types.UTCDateTime(), nullable=True),
        sa.Column("escalated_at", service.db_types.UTCDateTime(), nullable=True),
        sa.Column("escalation", sa.String(length=32), nullable=True),
        sa.Column("resolved_by", sa.String(length=200), nullable=True),
        sa.Column("resolved_at", service.db_types.UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("actions", service.db_types.JSONType, nullable=True),
        sa.Column("minutes", sa.Float(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_triage_item_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_triage_item_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triage_item")),
    )
    with op.batch_alter_table("triage_item", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_triage_item_centre_id_state_severity"),
            ["centre_id", "state", "severity"],
            unique=False,
        )
        batch_op.create_index(
            "uq_triage_item_patient_unresolved",
            ["patient_id"],
            unique=True,
            sqlite_where=sa.text("state != 'resolved'"),
            postgresql_where=sa.text("state != 'resolved'"),
        )

    op.create_table(
        "snooze",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("item_id", sa.String(length=36), nullable=False),
        sa.Column("rule", sa.String(length=48), nullable=False),
        sa.Column("measurement", sa.String(length=64), nullable=True),
        sa.Column("direction", sa.String(length=8), nullable=True),
        sa.Column("until", service.db_types.UTCDateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", service.db_types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_snooze_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["triage_item.id"], name=op.f("fk_snooze_item_id_triage_item")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_snooze_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snooze")),
    )
    with op.batch_alter_table("snooze", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_snooze_patient_id_until"), ["patient_id", "until"], unique=False
        )

    op.create_table(
        "triage_event",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("item_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("detail", service.db_types.JSONType, nullable=True),
        sa.Column("at", service.db_types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_triage_event_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["triage_item.id"], name=op.f("fk_triage_event_item_id_triage_item")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_triage_event_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triage_event")),
        sa.UniqueConstraint("centre_id", "seq", name=op.f("uq_triage_event_centre_id_seq")),
    )
    op.create_table(
        "finding",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("item_id", sa.String(length=36), nullable=True),
        sa.Column("observation_id", sa.String(length=36), nullable=True),
        sa.Column("anchor", sa.String(length=160), nullable=False),
        sa.Column("rule", sa.String(length=48), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("measurement", sa.String(length=64), nullable=True),
        sa.Column("direction", sa.String(length=8), nullable=True),
        sa.Column("reading_ids", service.db_types.JSONType, nullable=False),
        sa.Column("reason_nb", sa.Text(), nullable=False),
        sa.Column("reason_en", sa.Text(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("technical", sa.Boolean(), nullable=False),
        sa.Column("critical", sa.Boolean(), nullable=False),
        sa.Column("snoozed", sa.Boolean(), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=True),
        sa.Column("effective_at", service.db_types.UTCDateTime(), nullable=False),
        sa.Column("care_plan_version", sa.Integer(), nullable=True),
        sa.Column("created_at", service.db_types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_finding_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["triage_item.id"], name=op.f("fk_finding_item_id_triage_item")
        ),
        sa.ForeignKeyConstraint(
            ["observation_id"],
            ["observation.id"],
            name=op.f("fk_finding_observation_id_observation"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_finding_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finding")),
        sa.UniqueConstraint(
            "patient_id", "rule", "anchor", name=op.f("uq_finding_patient_id_rule_anchor")
        ),
    )
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_finding_patient_id_effective_at"),
            ["patient_id", "effective_at"],
            unique=False,
        )

    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("active_since", service.db_types.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.drop_column("active_since")

    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_finding_patient_id_effective_at"))

    op.drop_table("finding")
    op.drop_table("triage_event")
    with op.batch_alter_table("snooze", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_snooze_patient_id_until"))

    op.drop_table("snooze")
    with op.batch_alter_table("triage_item", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_triage_item_patient_unresolved",
            sqlite_where=sa.text("state != 'resolved'"),
            postgresql_where=sa.text("state != 'resolved'"),
        )
        batch_op.drop_index(batch_op.f("ix_triage_item_centre_id_state_severity"))

    op.drop_table("triage_item")
    op.drop_table("care_plan_version")
    op.drop_table("queue_policy")
    op.drop_table("job_run")
