"""A stored reading: the normalised values for triage and search, and the verbatim
FHIR JSON as received, for anyone who must see exactly what the device sent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.db_types import JSONType, UTCDateTime
from service.models_base import new_id, utcnow

# The FHIR status of a retracted reading: kept, served on read, left out everywhere a
# reading counts (search by default, triage evidence, the missing-reading scan, the
# evaluation, research exports).
ENTERED_IN_ERROR = "entered-in-error"


class Observation(SQLModel, table=True):
    __tablename__ = "observation"
    __table_args__ = (
        # Idempotency: one row per reading, whatever the number of retries.
        sa.UniqueConstraint("patient_id", "dedup_key"),
        sa.Index(None, "patient_id", "effective_at", "id"),
        sa.Index(None, "centre_id", "effective_at"),
        sa.Index(None, "patient_id", "code", "effective_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    centre_id: str = Field(foreign_key="centre.id", max_length=64)
    patient_id: str = Field(foreign_key="patient.id", max_length=36)
    device_id: str | None = Field(default=None, foreign_key="device.id", max_length=36)
    # "measurement" (normalised, triaged) or "context" (a device or context observation
    # of the PHD IG: stored as received, never triaged).
    kind: str = Field(default="measurement", max_length=16)
    measurement: str = Field(max_length=64)
    code: str = Field(max_length=32)
    status: str = Field(max_length=16)
    value: float | None = None
    unit: str | None = Field(default=None, max_length=32)
    original_value: float | None = None
    original_unit: str | None = Field(default=None, max_length=32)
    # Panels (blood pressure): [{"measurement", "code", "value", "unit",
    # "original_value", "original_unit"}, ...]
    components: list[dict[str, Any]] | None = Field(default=None, sa_type=JSONType)
    effective_at: datetime = Field(sa_type=UTCDateTime)
    # The effective time exactly as sent, with its offset ("-00:00" = offset unknown).
    effective_original: str = Field(max_length=64)
    time_doubtful: bool = False
    time_note: str | None = Field(default=None, max_length=200)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    dedup_key: str = Field(max_length=64)
    identifier_system: str | None = Field(default=None, max_length=200)
    identifier_value: str | None = Field(default=None, max_length=200)
    # Our ids of the observations this one refers to (coincident timestamp, derivedFrom,
    # hasMember), resolved within the Bundle it came in.
    links: list[str] | None = Field(default=None, sa_type=JSONType)
    # Why no rule judged this measurement ("paused", "no_care_plan", "history"), or None
    # when triage judged it: a later read must not answer "green" for it.
    not_judged: str | None = Field(default=None, max_length=16)
    resource: str = Field(sa_type=sa.Text)
    version_id: int = 1
    # A retraction (status entered-in-error, service/ingest/retraction.py): when and by
    # whom. The version it replaced is kept whole in ``observation_version``.
    retracted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    retracted_by: str | None = Field(default=None, max_length=200)
    retracted_by_role: str | None = Field(default=None, max_length=16)


class ObservationVersion(SQLModel, table=True):
    """An earlier version of a stored reading, exactly as it was served: a reading is
    never changed without keeping what it said before (FHIR ``_history``)."""

    __tablename__ = "observation_version"
    __table_args__ = (sa.UniqueConstraint("observation_id", "version_id"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    centre_id: str = Field(foreign_key="centre.id", max_length=64)
    patient_id: str = Field(foreign_key="patient.id", max_length=36)
    observation_id: str = Field(foreign_key="observation.id", max_length=36)
    version_id: int
    status: str = Field(max_length=16)
    resource: str = Field(sa_type=sa.Text)
    # When this version became current, and when and by whom it was replaced.
    last_updated: datetime = Field(sa_type=UTCDateTime)
    superseded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    superseded_by: str = Field(max_length=200)


class ReadingLastSeen(SQLModel, table=True):
    """The newest reading of each measurement of each patient (retracted ones left
    out), kept at ingest: the missing-reading scan reads one row per patient and
    measurement instead of grouping every reading ever stored (issue 18: 13 s a tick at
    2 million readings, and growing with them)."""

    __tablename__ = "reading_last_seen"

    patient_id: str = Field(foreign_key="patient.id", primary_key=True, max_length=36)
    # The stored measurement key (``Observation.measurement``), as the readings have it.
    measurement: str = Field(primary_key=True, max_length=64)
    centre_id: str = Field(foreign_key="centre.id", max_length=64)
    last_at: datetime = Field(sa_type=UTCDateTime)


class DeviceLastHeard(SQLModel, table=True):
    """When the service last heard from each device of each patient (``received_at`` of
    its newest observation of any kind; imported history says nothing of a device in use
    now and is left out), kept at ingest for the silent-device scan."""

    __tablename__ = "device_last_heard"

    patient_id: str = Field(foreign_key="patient.id", primary_key=True, max_length=36)
    device_id: str = Field(foreign_key="device.id", primary_key=True, max_length=36)
    centre_id: str = Field(foreign_key="centre.id", max_length=64)
    last_at: datetime = Field(sa_type=UTCDateTime)
