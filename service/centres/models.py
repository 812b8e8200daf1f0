"""A follow-up centre serves one or more municipalities; every patient belongs to one."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from service.db_types import JSONType, UTCDateTime
from service.models_base import utcnow

DEFAULT_TIME_ZONE = "Europe/Oslo"


class Centre(SQLModel, table=True):
    __tablename__ = "centre"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    org_number: str | None = Field(default=None, max_length=9)
    # Four-digit kommunenummer of the municipalities the centre serves.
    municipalities: list[str] = Field(default_factory=list, sa_type=JSONType)
    # IANA name: the centre's local day (an enrolment's start date is a day there).
    time_zone: str = Field(
        default=DEFAULT_TIME_ZONE,
        max_length=64,
        sa_column_kwargs={"server_default": DEFAULT_TIME_ZONE},
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
