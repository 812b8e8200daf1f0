"""The audit trail: one row per access to personal health data, successful or not.

Append-only. Nothing in the service updates or deletes a row, and on PostgreSQL (and
SQLite) triggers set up by the migration refuse UPDATE and DELETE (and, on
PostgreSQL, TRUNCATE) even for the service's own database role.

There are no foreign keys on purpose: a record of an attempt on a patient id that
does not exist must still be written, and a record must outlive what it is about.
Identity numbers are never stored: search parameters are kept with them redacted
(see ``service.audit.redact``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.db_types import UTCDateTime
from service.models_base import new_id, utcnow


class Outcome(StrEnum):
    success = "success"
    denied = "denied"  # 401, 403, and 404 (outside the caller's reach looks like missing)
    failed = "failed"  # any other refusal or error


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (
        # A patient's trail, and what one user did: the two questions an auditor asks.
        sa.Index(None, "patient_id", "recorded_at"),
        sa.Index(None, "actor", "recorded_at"),
        # An auditor's reach is by centre, newest first.
        sa.Index(None, "centre_id", "recorded_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Who: the verified token's subject, role, issuer, centres and client (app). None
    # when no token was verified (a 401).
    actor: str | None = Field(default=None, sa_type=sa.Text)
    actor_role: str | None = Field(default=None, max_length=16)
    actor_issuer: str | None = Field(default=None, sa_type=sa.Text)
    actor_centres: str | None = Field(default=None, sa_type=sa.Text)
    client_id: str | None = Field(default=None, sa_type=sa.Text)
    client_address: str | None = Field(default=None, max_length=64)
    # Whose data: the patient touched and their centre (else the actor's only centre).
    centre_id: str | None = Field(default=None, max_length=64)
    patient_id: str | None = Field(default=None, max_length=36)
    # What: FHIR AuditEvent.action (C R U D E) and the RESTful interaction.
    action: str = Field(max_length=1)
    subtype: str = Field(max_length=32)
    resource_type: str = Field(max_length=64)
    resource_id: str | None = Field(default=None, max_length=64)
    query: str | None = Field(default=None, sa_type=sa.Text)
    outcome: str = Field(max_length=16)
    status: int
    request_id: str = Field(max_length=64)
