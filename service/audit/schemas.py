"""The JSON shapes of ``GET /api/audit`` and ``GET /api/me/access-log``.

Two views of one table. The auditor sees every column. The patient sees when, which
role at which organisation, and what kind of access: not the staff member's user id,
which means nothing to them and is the employee's personal data; the centre's
auditor can name the person when the patient asks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class AuditRecord(BaseModel):
    id: str
    recorded_at: datetime
    actor: str | None = Field(description="the token's subject; null when none was verified")
    actor_role: str | None
    actor_issuer: str | None
    actor_centres: list[str]
    client_id: str | None
    client_address: str | None
    centre_id: str | None = Field(description="the patient's centre, else the actor's")
    patient_id: str | None
    action: str = Field(description="FHIR AuditEvent.action: C, R, U, D or E")
    subtype: str = Field(description="the FHIR interaction: read, search-type, create, ...")
    resource_type: str
    resource_id: str | None
    query: str | None = Field(description="search parameters, identity numbers redacted")
    outcome: str = Field(description="success, denied or failed")
    status: int = Field(description="the HTTP status answered")
    request_id: str

    @classmethod
    def of(cls, row: Any) -> AuditRecord:
        values = dict(row._mapping)
        values["actor_centres"] = (values["actor_centres"] or "").split()
        return cls.model_validate(values)


class AuditPage(BaseModel):
    records: list[AuditRecord]
    next_cursor: str | None = Field(description="pass as cursor= for the next, older page")


class AccessLogEntry(BaseModel):
    when: datetime
    role: str | None = Field(description="the role of whoever accessed: nurse, admin, ...")
    organisation_id: str | None
    organisation: str | None = Field(description="the follow-up centre's name")
    action: str = Field(description="read, search, create, update, delete or export")
    resource_type: str


class AccessLog(BaseModel):
    entries: list[AccessLogEntry]
    next_cursor: str | None
