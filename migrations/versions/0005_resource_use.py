"""Resource use: nurse actions with their minutes, events outside the service, and the
history of each patient's follow-up status that active and paused days are counted from.

The status history is written by a trigger on ``patient`` (both databases), so every
code path that pauses, resumes or ends follow-up leaves a row without knowing of the
evaluation. A resume takes the application's own time (``active_since``); a pause or an
end the database clock. Patients paused or ended before this revision get one row,
dated now: when their status changed was not recorded. (On SQLite, a later batch
migration that recreates ``patient`` drops its triggers: it must create this one again.)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db_types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_POSTGRES_NEW_ID = "gen_random_uuid()::text"
_POSTGRES_NOW = "now()"
# SQLite has no uuid function: a version-4 uuid from random bytes, in text form.
_SQLITE_NEW_ID = (
    "lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || "
    "substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + abs(random()) % 4, 1) || "
    "substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))"
)
# The text form UTCDateTime stores on SQLite (microseconds; SQLite gives milliseconds).
_SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now') || '000'"

_POSTGRES_UP = [
    """
    CREATE FUNCTION patient_status_history() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO patient_status_change (id, centre_id, patient_id, status, changed_at)
        VALUES (
            gen_random_uuid()::text, NEW.centre_id, NEW.id, NEW.status,
            CASE WHEN NEW.status = 'active' AND NEW.active_since IS NOT NULL
                 THEN NEW.active_since ELSE now() END
        );
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER patient_status_history AFTER UPDATE OF status, active_since ON patient
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          OR OLD.active_since IS DISTINCT FROM NEW.active_since)
    EXECUTE FUNCTION patient_status_history()
    """,
]
_POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS patient_status_history ON patient",
    "DROP FUNCTION IF EXISTS patient_status_history()",
]
_SQLITE_UP = [
    f"""
    CREATE TRIGGER patient_status_history AFTER UPDATE OF status, active_since ON patient
    WHEN OLD.status IS NOT NEW.status OR OLD.active_since IS NOT NEW.active_since
    BEGIN
        INSERT INTO patient_status_change (id, centre_id, patient_id, status, changed_at)
        VALUES (
            {_SQLITE_NEW_ID}, NEW.centre_id, NEW.id, NEW.status,
            CASE WHEN NEW.status = 'active' AND NEW.active_since IS NOT NULL
                 THEN NEW.active_since ELSE {_SQLITE_NOW} END
        );
    END
    """,  # noqa: S608 (constants only)
]
_SQLITE_DOWN = ["DROP TRIGGER IF EXISTS patient_status_history"]


def upgrade() -> None:
    op.create_table(
        "external_event",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("started_at", service.db_types.UTCDateTime(), nullable=False),
        sa.Column("ended_at", service.db_types.UTCDateTime(), nullable=True),
        sa.Column("hours_per_week", sa.Float(), nullable=True),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("reported_by", sa.String(length=200), nullable=False),
        sa.Column("reported_by_role", sa.String(length=16), nullable=False),
        sa.Column("recorded_at", service.db_types.UTCDateTime(), nullable=False),
        sa.Column("corrects", sa.String(length=36), nullable=True),
        sa.Column("retracted", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_external_event_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(
            ["corrects"],
            ["external_event.id"],
            name=op.f("fk_external_event_corrects_external_event"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_external_event_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_event")),
        sa.UniqueConstraint("corrects", name=op.f("uq_external_event_corrects")),
        sa.UniqueConstraint(
            "patient_id", "external_id", name=op.f("uq_external_event_patient_id_external_id")
        ),
    )
    with op.batch_alter_table("external_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_external_event_centre_id_started_at"),
            ["centre_id", "started_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_external_event_patient_id_started_at"),
            ["patient_id", "started_at"],
            unique=False,
        )

    op.create_table(
        "patient_status_change",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("changed_at", service.db_types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_patient_status_change_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
            name=op.f("fk_patient_status_change_patient_id_patient"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_status_change")),
    )
    with op.batch_alter_table("patient_status_change", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_patient_status_change_patient_id_changed_at"),
            ["patient_id", "changed_at"],
            unique=False,
        )

    op.create_table(
        "resource_use_event",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.String(length=36), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("minutes", sa.Float(), nullable=False),
        sa.Column("occurred_at", service.db_types.UTCDateTime(), nullable=False),
        sa.Column("recorded_at", service.db_types.UTCDateTime(), nullable=False),
        sa.Column("corrects", sa.String(length=36), nullable=True),
        sa.Column("retracted", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_resource_use_event_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(
            ["corrects"],
            ["resource_use_event.id"],
            name=op.f("fk_resource_use_event_corrects_resource_use_event"),
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["triage_item.id"], name=op.f("fk_resource_use_event_item_id_triage_item")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_resource_use_event_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_use_event")),
        sa.UniqueConstraint("corrects", name=op.f("uq_resource_use_event_corrects")),
    )
    with op.batch_alter_table("resource_use_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_resource_use_event_centre_id_occurred_at"),
            ["centre_id", "occurred_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_resource_use_event_patient_id_occurred_at"),
            ["patient_id", "occurred_at"],
            unique=False,
        )

    postgres = op.get_bind().dialect.name == "postgresql"
    new_id, now = (_POSTGRES_NEW_ID, _POSTGRES_NOW) if postgres else (_SQLITE_NEW_ID, _SQLITE_NOW)
    # Constants only: no value from outside is formatted into this statement.
    backfill = (
        "INSERT INTO patient_status_change (id, centre_id, patient_id, status, changed_at) "  # noqa: S608
        f"SELECT {new_id}, centre_id, id, status, {now} FROM patient WHERE status != 'active'"
    )
    op.execute(backfill)
    for statement in _POSTGRES_UP if postgres else _SQLITE_UP:
        op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRES_DOWN if postgres else _SQLITE_DOWN:
        op.execute(statement)

    with op.batch_alter_table("resource_use_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resource_use_event_patient_id_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_resource_use_event_centre_id_occurred_at"))

    op.drop_table("resource_use_event")
    with op.batch_alter_table("patient_status_change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patient_status_change_patient_id_changed_at"))

    op.drop_table("patient_status_change")
    with op.batch_alter_table("external_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_external_event_patient_id_started_at"))
        batch_op.drop_index(batch_op.f("ix_external_event_centre_id_started_at"))

    op.drop_table("external_event")
