"""A contact the centre has planned with a patient; cancelled ones are kept (who and when),
since a patient may have been told of them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.db_types import UTCDateTime
from service.models_base import new_id, utcnow


class ContactKind(StrEnum):
    """The kinds of contact a centre plans (the resource-use vocabulary's words)."""

    phone_call = "phone_call"
    video_consultation = "video_consultation"
    home_visit = "home_visit"


class PlannedContact(SQLModel, table=True):
    __tablename__ = "planned_contact"
    __table_args__ = (sa.Index(None, "patient_id", "planned_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    centre_id: str = Field(foreign_key="centre.id", max_length=64)
    patient_id: str = Field(foreign_key="patient.id", max_length=36)
    planned_at: datetime = Field(sa_type=UTCDateTime)
    kind: str = Field(max_length=32)
    planned_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancelled_by: str | None = Field(default=None, max_length=200)
