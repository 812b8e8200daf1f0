"""A stored answer to a form: the verbatim resource, and what search and triage need."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.db_types import JSONType, UTCDateTime
from service.models_base import new_id, utcnow


class QuestionnaireResponseRow(SQLModel, table=True):
    __tablename__ = "questionnaire_response"
    __table_args__ = (
        # Idempotency, as for readings: a resend of the same answer is stored once.
        sa.UniqueConstraint("patient_id", "dedup_key"),
        sa.Index(None, "patient_id", "authored_at", "id"),
        sa.Index(None, "centre_id", "authored_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    centre_id: str = Field(foreign_key="centre.id", max_length=64)
    patient_id: str = Field(foreign_key="patient.id", max_length=36)
    # The form's canonical URL and version, as answered.
    questionnaire: str = Field(max_length=200)
    questionnaire_version: str = Field(max_length=32)
    authored_at: datetime = Field(sa_type=UTCDateTime)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    dedup_key: str = Field(max_length=64)
    # linkId -> the answer's value, as validated against the form.
    answers: dict[str, Any] = Field(sa_type=JSONType)
    score: int | None = None
    # The survey Observation a scored form was stored as (derivedFrom this response).
    score_observation_id: str | None = Field(default=None, max_length=36)
    resource: str = Field(sa_type=sa.Text)
