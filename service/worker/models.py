"""Which job ran for which tick: the row that lets several worker replicas run a tick once."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.db_types import UTCDateTime
from service.models_base import utcnow


class JobRun(SQLModel, table=True):
    __tablename__ = "job_run"
    __table_args__ = (sa.PrimaryKeyConstraint("job", "tick"),)

    job: str = Field(max_length=64)
    # The tick's start, as whole seconds since the epoch: the same number in every replica.
    tick: int = Field(sa_type=sa.BigInteger)
    ran_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # What the tick did (items opened, escalated), for the operator at 03:00.
    result: str | None = Field(default=None, max_length=200)
