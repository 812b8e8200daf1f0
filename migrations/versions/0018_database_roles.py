"""An owner role and a service role: the service can only append to the audit trail.

On PostgreSQL: creates ``DHO_DB_OWNER_ROLE`` and ``DHO_DB_SERVICE_ROLE`` (dho_owner and
dho_service by default) unless they exist, gives every object of the schema to the
owner and grants the service INSERT and SELECT only on ``audit_event`` (normal rights
elsewhere). Not owning the table, the service can neither disable nor drop the
append-only triggers of 0003, which stay. Migrations env re-applies the grants after
each later migration (service/db_roles.py). A no-op on SQLite, which has no roles.

Revision ID: 0018
Revises: 0015
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from service import db_roles
from service.settings import Settings

revision: str = "0018"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    settings = Settings()
    op.execute(db_roles.create_roles(settings.db_owner_role, settings.db_service_role))
    op.execute(db_roles.apply(settings.db_owner_role, settings.db_service_role))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(db_roles.revoke(Settings().db_service_role))
