"""What follow-up costs and what happens around it: the rows the evaluation counts.

Every row carries the centre and the patient (the tenancy key of every query). Rows are
never updated: a correction is a new row whose ``corrects`` names the row it replaces,
and ``corrects`` is unique, so each chain is a line and its head (the row nothing
corrects) is the one the figures count. The history stays readable.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.db_types import UTCDateTime
from service.models_base import new_id, utcnow


class Source(StrEnum):
    """How an event came to be: logged by a nurse, or written by resolving a queue item."""

    nurse = "nurse"
    queue = "queue"


class ExternalKind(StrEnum):
    """What happens outside the service and matters for the evaluation."""

    gp_contact = "gp_contact"
    # Legevakt: the municipal emergency primary care (out-of-hours) service.
    emergency_primary_care = "emergency_primary_care"
    # From admission to discharge; bed days are counted from the two dates.
    hospital_stay = "hospital_stay"
    # KAD: kommunal akutt døgnenhet, a municipal acute bed.
    municipal_acute_bed = "municipal_acute_bed"
    short_term_stay = "short_term_stay"
    # A level, not a happening: hours per week from ``started_at`` on.
    home_care_hours = "home_care_hours"


class ResourceUseEvent(SQLModel, table=True):
    """One nurse action for one patient, with the minutes it took."""

    __tablename__ = "resource_use_event"
    __table_args__ = (
        sa.UniqueConstraint("corrects"),
        sa.Index(None, "centre_id", "occurred_at"),
        sa.Index(None, "patient_id", "occurred_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    centre_id: str = Field(foreign_key="centre.id", max_length=64)
    patient_id: str = Field(foreign_key="patient.id", max_length=36)
    actor: str = Field(max_length=200)
    actor_role: str = Field(max_length=16)
    item_id: str | None = Field(default=None, foreign_key="triage_item.id", max_length=36)
    # One of service.queue.schemas.Action.
    action: str = Field(max_length=32)
    minutes: float
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    corrects: str | None = Field(default=None, foreign_key="resource_use_event.id", max_length=36)
    # A correction saying the corrected event never happened (logged by mistake).
    retracted: bool = False
    # The nurse's words: clinical free text, never exported.
    note: str | None = Field(default=None, sa_type=sa.Text)
    source: str = Field(default=Source.nurse, max_length=8)


class ExternalEvent(SQLModel, table=True):
    """Something outside the service: a GP contact, a legevakt visit, a hospital stay,
    a municipal acute bed, a short-term stay, or a level of home-care hours."""

    __tablename__ = "external_event"
    __table_args__ = (
        sa.UniqueConstraint("corrects"),
        # A reporting system's own id makes its retries harmless.
        sa.UniqueConstraint("patient_id", "external_id"),
        sa.Index(None, "centre_id", "started_at"),
        sa.Index(None, "patient_id", "started_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    centre_id: str = Field(foreign_key="centre.id", max_length=64)
    patient_id: str = Field(foreign_key="patient.id", max_length=36)
    kind: str = Field(max_length=32)
    started_at: datetime = Field(sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    hours_per_week: float | None = None
    external_id: str | None = Field(default=None, max_length=200)
    reported_by: str = Field(max_length=200)
    reported_by_role: str = Field(max_length=16)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    corrects: str | None = Field(default=None, foreign_key="external_event.id", max_length=36)
    retracted: bool = False


class PatientStatusChange(SQLModel, table=True):
    """A patient's follow-up status from a moment on: what active and paused days are
    counted from.

    Written by a database trigger on ``patient`` (migration 0005), so every path that
    pauses, resumes or ends follow-up leaves its row, and the care-plan code that owns
    the status needs no knowledge of the evaluation. A patient without rows has been
    active since enrolment.
    """

    __tablename__ = "patient_status_change"
    __table_args__ = (sa.Index(None, "patient_id", "changed_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    centre_id: str = Field(foreign_key="centre.id", max_length=64)
    patient_id: str = Field(foreign_key="patient.id", max_length=36)
    status: str = Field(max_length=16)
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
