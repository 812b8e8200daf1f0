"""Patients enrolled in home follow-up.

The national identity number is never stored in clear: it is encrypted (AES-GCM, the
key id kept for rotation) and found by a keyed hash, so the database alone gives
neither the number nor a way to test guesses against it.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.db_types import UTCDateTime
from service.models_base import new_id, utcnow


class PatientStatus(StrEnum):
    active = "active"
    paused = "paused"
    ended = "ended"


class Patient(SQLModel, table=True):
    __tablename__ = "patient"
    __table_args__ = (sa.UniqueConstraint("identity_hash"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    centre_id: str = Field(foreign_key="centre.id", index=True, max_length=64)
    identity_hash: str = Field(max_length=64)
    identity_system: str = Field(max_length=64)
    identity_ciphertext: str = Field(sa_type=sa.Text)
    identity_key_id: str = Field(max_length=16)
    given_name: str = Field(max_length=200)
    family_name: str = Field(max_length=200)
    birth_date: date
    sex: str = Field(max_length=16)
    municipality: str = Field(max_length=4)
    status: PatientStatus = Field(default=PatientStatus.active, sa_type=sa.String(16))
    enrolled_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Start of the present active period (enrolment, or the end of the last pause): no
    # reading is "missing" from before it.
    active_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    version_id: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PatientIdentifier(SQLModel, table=True):
    """Other identifiers a patient is known by: a gateway's or a hospital record number.

    Registered at enrolment, they let a gateway Bundle find the patient
    (``ifNoneExist``). Only a keyed hash of the value is stored: it is for finding,
    not for showing.
    """

    __tablename__ = "patient_identifier"
    __table_args__ = (sa.UniqueConstraint("system", "value_hash"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    centre_id: str = Field(foreign_key="centre.id", max_length=64)
    patient_id: str = Field(foreign_key="patient.id", index=True, max_length=36)
    system: str = Field(max_length=200)
    value_hash: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
