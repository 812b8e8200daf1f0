"""What a municipality's follow-up and the care around it cost, in kroner: the prices
the evaluation turns counts into money with.

A model is one municipality's, as served by one centre (the tenancy key), from
``valid_from`` on; a new price list is a new row with a later ``valid_from``, so a
report of an earlier period keeps the prices it was made with. Not patient data.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.db_types import UTCDateTime
from service.models_base import new_id, utcnow

# The prices of a model, in Norwegian kroner, by the names the API and the files use.
PRICES = (
    "nurse_hour",
    "hospital_bed_day",
    "hospital_admission",
    "emergency_primary_care_contact",
    "gp_consultation",
    "home_care_hour",
    "municipal_acute_bed_day",
    "running_cost_per_patient_month",
)


class CostModel(SQLModel, table=True):
    __tablename__ = "cost_model"
    __table_args__ = (sa.UniqueConstraint("centre_id", "municipality", "valid_from"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    centre_id: str = Field(foreign_key="centre.id", max_length=64)
    # Four-digit kommunenummer, one the centre serves.
    municipality: str = Field(max_length=4)
    valid_from: date = Field(sa_type=sa.Date)
    nurse_hour: float
    hospital_bed_day: float
    hospital_admission: float
    emergency_primary_care_contact: float
    gp_consultation: float
    home_care_hour: float
    municipal_acute_bed_day: float
    running_cost_per_patient_month: float
    # Where the prices come from, in the admin's words: a report reader asks.
    sources: str | None = Field(default=None, sa_type=sa.Text)
    set_by: str = Field(max_length=200)
    set_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
