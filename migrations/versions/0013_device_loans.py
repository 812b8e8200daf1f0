"""Device loans: a device's holders over time replace its one bound patient, so a kit
can be lent to one patient after another; devices get a version for FHIR update.

Existing bindings become loans: a device bound to a patient is lent to them from when
it was assigned (else registered) until it was unassigned, if ever.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db_types

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "device_loan",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("lent_at", service.db_types.UTCDateTime(), nullable=False),
        sa.Column("returned_at", service.db_types.UTCDateTime(), nullable=True),
        sa.Column("lent_by", sa.String(length=200), nullable=False),
        sa.Column("returned_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", service.db_types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_device_loan_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["device.id"], name=op.f("fk_device_loan_device_id_device")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_device_loan_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_loan")),
    )
    with op.batch_alter_table("device_loan", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_loan_centre_id"), ["centre_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_device_loan_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_device_loan_device_id_lent_at"), ["device_id", "lent_at"], unique=False
        )
        batch_op.create_index(
            "uq_device_loan_device_open",
            ["device_id"],
            unique=True,
            sqlite_where=sa.text("returned_at IS NULL"),
            postgresql_where=sa.text("returned_at IS NULL"),
        )

    _bindings_become_loans()

    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("version_id", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.add_column(sa.Column("updated_at", service.db_types.UTCDateTime(), nullable=True))
        batch_op.drop_index(batch_op.f("ix_device_patient_id"))
        batch_op.drop_constraint("fk_device_patient_id_patient", type_="foreignkey")
        batch_op.drop_column("assigned_until")
        batch_op.drop_column("assigned_from")
        batch_op.drop_column("patient_id")


def _bindings_become_loans() -> None:
    """Before this revision a device was bound on first sight to the patient of the
    Bundle that brought it: that is a first-use loan, and it starts at the earliest of
    the binding and the patient's readings from the device."""
    when = service.db_types.UTCDateTime()
    device = sa.table(
        "device",
        sa.column("id"),
        sa.column("centre_id"),
        sa.column("patient_id"),
        sa.column("assigned_from", when),
        sa.column("assigned_until", when),
        sa.column("created_at", when),
    )
    observation = sa.table(
        "observation",
        sa.column("device_id"),
        sa.column("patient_id"),
        sa.column("effective_at", when),
    )
    first = (
        sa.select(sa.func.min(observation.c.effective_at))
        .where(
            observation.c.device_id == device.c.id,
            observation.c.patient_id == device.c.patient_id,
        )
        .scalar_subquery()
    )
    bind = op.get_bind()
    bound = bind.execute(
        sa.select(device, first.label("first_reading")).where(device.c.patient_id.is_not(None))
    ).all()
    loans = []
    for row in bound:
        starts = [t for t in (row.assigned_from, row.created_at, row.first_reading) if t]
        loans.append(
            {
                "id": str(uuid.uuid4()),
                "centre_id": row.centre_id,
                "patient_id": row.patient_id,
                "device_id": row.id,
                "lent_at": min(starts),
                "returned_at": row.assigned_until,
                "lent_by": "first-use",
                "created_at": row.created_at,
            }
        )
    loan = sa.table(
        "device_loan",
        sa.column("id"),
        sa.column("centre_id"),
        sa.column("patient_id"),
        sa.column("device_id"),
        sa.column("lent_at", when),
        sa.column("returned_at", when),
        sa.column("lent_by"),
        sa.column("created_at", when),
    )
    if loans:
        op.bulk_insert(loan, loans)


def downgrade() -> None:
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.add_column(sa.Column("patient_id", sa.String(length=36), nullable=True))
        batch_op.add_column(
            sa.Column("assigned_from", service.db_types.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("assigned_until", service.db_types.UTCDateTime(), nullable=True)
        )
        batch_op.create_foreign_key(
            "fk_device_patient_id_patient", "patient", ["patient_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_device_patient_id"), ["patient_id"], unique=False)
        batch_op.drop_column("updated_at")
        batch_op.drop_column("version_id")
    # The latest loan of each device becomes its binding again.
    op.execute(
        sa.text(
            "UPDATE device SET patient_id = l.patient_id, assigned_from = l.lent_at, "
            "assigned_until = l.returned_at FROM device_loan AS l WHERE l.device_id = device.id "
            "AND l.lent_at = (SELECT max(m.lent_at) FROM device_loan AS m "
            "WHERE m.device_id = device.id)"
        )
    )
    with op.batch_alter_table("device_loan", schema=None) as batch_op:
        batch_op.drop_index("uq_device_loan_device_open")
        batch_op.drop_index(batch_op.f("ix_device_loan_device_id_lent_at"))
        batch_op.drop_index(batch_op.f("ix_device_loan_patient_id"))
        batch_op.drop_index(batch_op.f("ix_device_loan_centre_id"))
    op.drop_table("device_loan")
