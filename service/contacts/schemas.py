"""Planned contacts as the API takes and answers them."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict

from service.contacts.models import ContactKind


class PlannedContactCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    planned_at: AwareDatetime
    kind: ContactKind


class PlannedContactRead(BaseModel):
    id: str
    patient_id: str
    centre_id: str
    planned_at: datetime
    kind: ContactKind
    planned_by: str
    created_at: datetime
    cancelled_at: datetime | None
