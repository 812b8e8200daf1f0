"""A care plan is kept as versions: each change is a new row, so what a reading was
judged against can always be read back (a threshold change never rewrites the past)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.db_types import JSONType, UTCDateTime
from service.models_base import new_id, utcnow


class CarePlanVersion(SQLModel, table=True):
    __tablename__ = "care_plan_version"
    __table_args__ = (sa.UniqueConstraint("patient_id", "version"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    centre_id: str = Field(foreign_key="centre.id", max_length=64)
    patient_id: str = Field(foreign_key="patient.id", max_length=36)
    version: int
    protocol: str = Field(max_length=32)
    # The personalisation (bands, schedule, trial period, rule parameters) as the API
    # took it: see service.careplans.schemas.PlanSettings.
    settings: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    # Why the plan changed, in the nurse's words: clinical free text, never exported.
    reason: str | None = Field(default=None, sa_type=sa.Text)
    changed_by: str = Field(max_length=200)
    changed_by_role: str = Field(max_length=16)
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
