"""Audit trail: one append-only row per access to personal health data.

Triggers refuse UPDATE and DELETE of audit rows on both databases, and TRUNCATE on
PostgreSQL, whatever the role: the service's own database role cannot rewrite the
trail either. (A table owner can still disable a trigger; a deployment that must also
rule that out gives the table to another owner and grants the service INSERT and
SELECT only.)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db_types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_POSTGRES_UP = [
    """
    CREATE FUNCTION audit_event_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_event is append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END
    $$
    """,
    """
    CREATE TRIGGER audit_event_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_is_append_only()
    """,
    """
    CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_is_append_only()
    """,
]
_POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event",
    "DROP TRIGGER IF EXISTS audit_event_no_update_or_delete ON audit_event",
    "DROP FUNCTION IF EXISTS audit_event_is_append_only()",
]
_SQLITE_UP = [
    """
    CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
    BEGIN SELECT RAISE(ABORT, 'audit_event is append-only: UPDATE refused'); END
    """,
    """
    CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
    BEGIN SELECT RAISE(ABORT, 'audit_event is append-only: DELETE refused'); END
    """,
]
_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS audit_event_no_delete",
    "DROP TRIGGER IF EXISTS audit_event_no_update",
]


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("recorded_at", service.db_types.UTCDateTime(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=True),
        sa.Column("actor_role", sa.String(length=16), nullable=True),
        sa.Column("actor_issuer", sa.Text(), nullable=True),
        sa.Column("actor_centres", sa.Text(), nullable=True),
        sa.Column("client_id", sa.Text(), nullable=True),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.Column("centre_id", sa.String(length=64), nullable=True),
        sa.Column("patient_id", sa.String(length=36), nullable=True),
        sa.Column("action", sa.String(length=1), nullable=False),
        sa.Column("subtype", sa.String(length=32), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=True),
        sa.Column("query", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_event_patient_id_recorded_at"),
            ["patient_id", "recorded_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_audit_event_actor_recorded_at"), ["actor", "recorded_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_audit_event_centre_id_recorded_at"),
            ["centre_id", "recorded_at"],
            unique=False,
        )
    for statement in _triggers(up=True):
        op.execute(statement)


def downgrade() -> None:
    for statement in _triggers(up=False):
        op.execute(statement)
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_centre_id_recorded_at"))
        batch_op.drop_index(batch_op.f("ix_audit_event_actor_recorded_at"))
        batch_op.drop_index(batch_op.f("ix_audit_event_patient_id_recorded_at"))
    op.drop_table("audit_event")


def _triggers(*, up: bool) -> list[str]:
    if op.get_bind().dialect.name == "postgresql":
        return _POSTGRES_UP if up else _POSTGRES_DOWN
    return _SQLITE_UP if up else _SQLITE_DOWN
