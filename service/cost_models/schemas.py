"""What the cost-model API and ``dho cost-model load`` take and answer."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# A price in kroner: never negative, and below anything a health service charges.
Kroner = Annotated[float, Field(ge=0, le=10_000_000)]


class Prices(BaseModel):
    """Prices in Norwegian kroner (NOK)."""

    model_config = ConfigDict(extra="forbid")

    nurse_hour: Kroner
    hospital_bed_day: Kroner
    # The part of a hospital stay that does not depend on its length.
    hospital_admission: Kroner
    # A legevakt (out-of-hours) contact.
    emergency_primary_care_contact: Kroner
    gp_consultation: Kroner
    home_care_hour: Kroner
    # A day in a municipal acute bed (KAD).
    municipal_acute_bed_day: Kroner
    # The service's own running cost (kit, licences, platform) per patient-month.
    running_cost_per_patient_month: Kroner


class CostModelWrite(BaseModel):
    """A municipality's prices from ``valid_from`` on; writing the same ``valid_from``
    again replaces that version's prices."""

    model_config = ConfigDict(extra="forbid")

    valid_from: date
    prices: Prices
    sources: Annotated[str, Field(max_length=4000)] | None = None


class CostModelFile(CostModelWrite):
    """One model in a file for ``dho cost-model load``: the write, and whose it is."""

    centre: Annotated[str, Field(max_length=64)]
    municipality: Annotated[str, Field(max_length=8)]


class CostModelRead(BaseModel):
    centre_id: str
    municipality: str
    valid_from: date
    prices: Prices
    sources: str | None
    set_by: str
    set_at: datetime
