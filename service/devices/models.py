"""A device (a BP cuff, an oximeter, a scale, a gateway) is registered by its identifier
in one centre, and lent to one patient after another. Who held it when decides whose
a reading is: ``device_loan`` is that history. Its clock offset, learnt from the PHD
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
    identifier_system: str = Field(max_length=200)
    identifier_value: str = Field(max_length=200)
    kind: str | None = Field(default=None, max_length=200)
    # Device clock minus true (gateway) time, in seconds, from the last coincident
    # timestamp; None until one is received.
    clock_offset_seconds: float | None = None
    clock_doubtful: bool = False
    resource: str = Field(sa_type=sa.Text)
    version_id: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DeviceLoan(SQLModel, table=True):
    """One patient's holding of one device, from ``lent_at`` until ``returned_at``
    (open while None). Loans of a device never overlap; at most one is open (a partial
    unique index, so two concurrent lendings cannot both win)."""

    __tablename__ = "device_loan"
    __table_args__ = (
        sa.Index(
            "uq_device_loan_device_open",
            "device_id",
            unique=True,
            sqlite_where=sa.text("returned_at IS NULL"),
            postgresql_where=sa.text("returned_at IS NULL"),
        ),
        sa.Index(None, "device_id", "lent_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    centre_id: str = Field(foreign_key="centre.id", index=True, max_length=64)
    patient_id: str = Field(foreign_key="patient.id", index=True, max_length=36)
    device_id: str = Field(foreign_key="device.id", max_length=36)
    lent_at: datetime = Field(sa_type=UTCDateTime)
    returned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Who lent and who took it back: a token subject, or "first-use" when the service
    # lent a device it had never seen to the patient whose gateway sent it.
    lent_by: str = Field(max_length=200)
    returned_by: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
