"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 09:35:31.306878
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db_types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "centre",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("org_number", sa.String(length=9), nullable=True),
        sa.Column("municipalities", service.db_types.JSONType, nullable=False),
        sa.Column("created_at", service.db_types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_centre")),
    )
    op.create_table(
        "patient",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.Column("identity_hash", sa.String(length=64), nullable=False),
        sa.Column("identity_system", sa.String(length=64), nullable=False),
        sa.Column("identity_ciphertext", sa.Text(), nullable=False),
        sa.Column("identity_key_id", sa.String(length=16), nullable=False),
        sa.Column("given_name", sa.String(length=200), nullable=False),
        sa.Column("family_name", sa.String(length=200), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(length=16), nullable=False),
        sa.Column("municipality", sa.String(length=4), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("enrolled_at", service.db_types.UTCDateTime(), nullable=False),
        sa.Column("ended_at", service.db_types.UTCDateTime(), nullable=True),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("created_at", service.db_types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_patient_centre_id_centre")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient")),
        sa.UniqueConstraint("identity_hash", name=op.f("uq_patient_identity_hash")),
    )
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patient_centre_id"), ["centre_id"], unique=False)

    op.create_table(
        "device",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=True),
        sa.Column("identifier_system", sa.String(length=200), nullable=False),
        sa.Column("identifier_value", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=200), nullable=True),
        sa.Column("assigned_from", service.db_types.UTCDateTime(), nullable=True),
        sa.Column("assigned_until", service.db_types.UTCDateTime(), nullable=True),
        sa.Column("clock_offset_seconds", sa.Float(), nullable=True),
        sa.Column("clock_doubtful", sa.Boolean(), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("created_at", service.db_types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_device_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_device_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device")),
        sa.UniqueConstraint(
            "centre_id",
            "identifier_system",
            "identifier_value",
            name=op.f("uq_device_centre_id_identifier_system_identifier_value"),
        ),
    )
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_centre_id"), ["centre_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_device_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "observation",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=True),
        sa.Column("measurement", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("unit", sa.String(length=32), nullable=True),
        sa.Column("original_value", sa.Float(), nullable=True),
        sa.Column("original_unit", sa.String(length=32), nullable=True),
        sa.Column("components", service.db_types.JSONType, nullable=True),
        sa.Column("effective_at", service.db_types.UTCDateTime(), nullable=False),
        sa.Column("effective_original", sa.String(length=64), nullable=False),
        sa.Column("time_doubtful", sa.Boolean(), nullable=False),
        sa.Column("time_note", sa.String(length=200), nullable=True),
        sa.Column("received_at", service.db_types.UTCDateTime(), nullable=False),
        sa.Column("dedup_key", sa.String(length=64), nullable=False),
        sa.Column("identifier_system", sa.String(length=200), nullable=True),
        sa.Column("identifier_value", sa.String(length=200), nullable=True),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_observation_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["device.id"], name=op.f("fk_observation_device_id_device")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_observation_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observation")),
        sa.UniqueConstraint(
            "patient_id", "dedup_key", name=op.f("uq_observation_patient_id_dedup_key")
        ),
    )
    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_observation_centre_id_effective_at"),
            ["centre_id", "effective_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_observation_patient_id_code_effective_at"),
            ["patient_id", "code", "effective_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_observation_patient_id_effective_at_id"),
            ["patient_id", "effective_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_observation_patient_id_effective_at_id"))
        batch_op.drop_index(batch_op.f("ix_observation_patient_id_code_effective_at"))
        batch_op.drop_index(batch_op.f("ix_observation_centre_id_effective_at"))

    op.drop_table("observation")
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_patient_id"))
        batch_op.drop_index(batch_op.f("ix_device_centre_id"))

    op.drop_table("device")
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patient_centre_id"))

    op.drop_table("patient")
    op.drop_table("centre")
