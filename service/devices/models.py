"""A device (a BP cuff, an oximeter, a gateway) is registered by its identifier and
lent to one patient over a period. Its clock offset, learnt from the PHD
coincident-timestamp observation, corrects the times of its readings."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.db_types import UTCDateTime
from service.models_base import new_id, utcnow


class Device(SQLModel, table=True):
    __tablename__ = "device"
    __table_args__ = (sa.UniqueConstraint("centre_id", "identifier_system", "identifier_value"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    centre_id: str = Field(foreign_key="centre.id", index=True, max_length=64)
    patient_id: str | None = Field(
        default=None, foreign_key="patient.id", index=True, max_length=36
    )
    identifier_system: str = Field(max_length=200)
    identifier_value: str = Field(max_length=200)
    kind: str | None = Field(default=None, max_length=200)
    assigned_from: datetime | None = Field(default=None, sa_type=UTCDateTime)
    assigned_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Device clock minus true (gateway) time, in seconds, from the last coincident
    # timestamp; None until one is received.
    clock_offset_seconds: float | None = None
    clock_doubtful: bool = False
    resource: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
