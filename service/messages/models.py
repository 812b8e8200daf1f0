"""A message of a patient's thread: written by the patient to their centre, or by a
nurse of the centre to the patient.

A thread belongs to the patient: every row carries the patient and the centre (the
tenancy key of every query), and no export reads this table (``service.research`` names
its sources one by one, and this is not one of them).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.db_types import UTCDateTime
from service.models_base import new_id, utcnow

FROM_PATIENT = "patient"
FROM_CENTRE = "centre"


class MessageRow(SQLModel, table=True):
    __tablename__ = "message"
    __table_args__ = (
        # Idempotency: a tablet that resends after a lost answer stores the message once.
        sa.UniqueConstraint("patient_id", "dedup_key"),
        sa.Index(None, "patient_id", "sent_at", "id"),
        # The queue's "message waiting": the centre's unread messages from patients.
        sa.Index(None, "centre_id", "read_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    centre_id: str = Field(foreign_key="centre.id", max_length=64)
    patient_id: str = Field(foreign_key="patient.id", max_length=36)
    # FROM_PATIENT or FROM_CENTRE; the nurse who wrote is ``sender``.
    direction: str = Field(max_length=8)
    sender: str = Field(max_length=200)
    text: str = Field(sa_type=sa.Text)
    in_response_to: str | None = Field(default=None, max_length=36)
    sent_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    read_by: str | None = Field(default=None, max_length=200)
    dedup_key: str = Field(max_length=64)
    # At most one image (PNG or JPEG, checked from its bytes), within the settings' limit.
    attachment_type: str | None = Field(default=None, max_length=32)
    attachment: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
