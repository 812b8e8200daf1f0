"""Studies, their researchers and centres, the per-patient date offsets, and export jobs.

Researchers and centres are rows of their own, not JSON lists on the study: the caller's
reach (``service.tenancy.studies_visible_to``) is then a plain ``EXISTS`` that both
databases index, instead of a JSON containment test each spells differently.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.db_types import JSONType, UTCDateTime
from service.models_base import new_id, utcnow


class TimeMode(StrEnum):
    """How an export hides calendar time."""

    # One random offset per patient, drawn once per study, never zero.
    shift = "shift"
    # Every patient's enrolment day is moved to the same day (2000-01-01): dates read
    # as days since enrolment.
    since_enrolment = "since_enrolment"


class TimePrecision(StrEnum):
    minute = "minute"
    hour = "hour"
    day = "day"


class ExportStatus(StrEnum):
    queued = "queued"
    running = "running"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"
    expired = "expired"


ACTIVE_STATUSES = (ExportStatus.queued.value, ExportStatus.running.value)


class Study(SQLModel, table=True):
    """An approved study: who may export what, about whom, and how anonymous it must be.

    The study's own key (for its pseudonyms) is stored sealed with a key derived from
    the service's data key (``service.research.pseudonyms``), bound to the study's id.
    It never leaves the service: not in an answer, not in an export.
    """

    __tablename__ = "study"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    title: str = Field(max_length=200)
    # REK number or the equivalent approval.
    approval_reference: str = Field(max_length=64)
    purpose: str = Field(sa_type=sa.Text)
    # The data window: readings, findings, items and events of these days are exported.
    period_start: date
    period_end: date
    # After this moment nothing is exported or downloaded for the study.
    expires_at: datetime = Field(sa_type=UTCDateTime)
    # Cohort: care-plan protocols (empty: any) and the enrolment window (None: open).
    protocols: list[str] = Field(default_factory=list, sa_type=JSONType)
    enrolled_from: date | None = None
    enrolled_until: date | None = None
    # Data minimisation: the variables that may leave (service.research.dictionary).
    variables: list[str] = Field(default_factory=list, sa_type=JSONType)
    k: int = 5
    max_suppressed_share: float = 0.05
    time_mode: str = Field(default=TimeMode.shift, max_length=16)
    time_precision: str = Field(default=TimePrecision.hour, max_length=8)
    max_offset_days: int = 180
    # Top- and bottom-coding: {measurement: {"low": x, "high": y}} in canonical units.
    value_limits: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    # Released patient attributes the study's reviewer declared non-identifying, in
    # writing: [{"variable": ..., "justification": ...}]. Every other released patient
    # attribute counts for k (service.research.kanon).
    non_identifying: list[dict[str, str]] | None = Field(default=None, sa_type=JSONType)
    # The finest generalisation (a kanon.LADDER rung's name) any export of the study
    # has released: what another study's export is joined against (two studies of one
    # cohort with a researcher in common). None: nothing released yet.
    finest_level: str | None = Field(default=None, max_length=64)
    key_ciphertext: str = Field(sa_type=sa.Text)
    key_id: str = Field(max_length=16)
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class StudyCentre(SQLModel, table=True):
    __tablename__ = "study_centre"
    __table_args__ = (sa.Index(None, "centre_id"),)

    study_id: str = Field(foreign_key="study.id", primary_key=True, max_length=36)
    centre_id: str = Field(foreign_key="centre.id", primary_key=True, max_length=64)


class StudyResearcher(SQLModel, table=True):
    """A researcher on the study, by the subject of their token."""

    __tablename__ = "study_researcher"
    __table_args__ = (sa.Index(None, "subject"),)

    study_id: str = Field(foreign_key="study.id", primary_key=True, max_length=36)
    subject: str = Field(primary_key=True, max_length=200)


class StudyPatientOffset(SQLModel, table=True):
    """The patient's date offset in this study: drawn once, so every export of the
    study shifts the patient alike, and never zero (a zero would release true dates)."""

    __tablename__ = "study_patient_offset"
    __table_args__ = (sa.CheckConstraint("offset_days <> 0", name="offset_not_zero"),)

    study_id: str = Field(foreign_key="study.id", primary_key=True, max_length=36)
    patient_id: str = Field(foreign_key="patient.id", primary_key=True, max_length=36)
    centre_id: str = Field(foreign_key="centre.id", max_length=64)
    offset_days: int
    drawn_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ExportJob(SQLModel, table=True):
    """One Bulk Data export: its state, progress and files, for whichever process
    polls, runs or serves it (none of them holds it in memory)."""

    __tablename__ = "export_job"
    __table_args__ = (
        sa.Index(None, "status", "created_at"),
        sa.Index(None, "study_id", "requested_by", "status"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    study_id: str = Field(foreign_key="study.id", max_length=36)
    status: str = Field(default=ExportStatus.queued, max_length=16)
    # 0..1, readings written over readings to write.
    progress: float = 0.0
    # The kick-off URL as requested (Bulk Data's manifest ``request``).
    request: str = Field(sa_type=sa.Text)
    requested_by: str = Field(max_length=200)
    # The data cut: rows recorded after this moment are not exported.
    transaction_time: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    heartbeat_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The last status poll answered while it ran: polls closer than the minimum
    # interval get 429 (kept here, not in an API process, which keeps no state).
    polled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # [{"name", "type", "format", "sha256", "bytes", "count"}]: names are ours, never data.
    files: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    # Why it failed, in words that carry no personal data.
    error: str | None = Field(default=None, sa_type=sa.Text)
