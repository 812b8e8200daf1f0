"""What the centres API takes and answers.

The schema checks shapes; the values (the organisation number's check digit, the
kommunenummer, the IANA zone) are checked by ``service.centres.validation``, shared
with ``dho centre``, and refused with a 422 that names the field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.centres.models import DEFAULT_TIME_ZONE
from service.centres.validation import MAX_MUNICIPALITIES

# The service levels of the centre's queue (also at /api/centres/{id}/queue-policy).
ClaimMinutes = Annotated[int, Field(ge=1, le=24 * 60)]
ResolveMinutes = Annotated[int, Field(ge=1, le=7 * 24 * 60)]
Municipalities = Annotated[
    list[Annotated[str, Field(max_length=8)]], Field(max_length=MAX_MUNICIPALITIES)
]


class CentreCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(max_length=64, description="the id tokens name the centre by")]
    name: Annotated[str, Field(max_length=400)]
    org_number: Annotated[str, Field(max_length=16, description="organisasjonsnummer, 9 digits")]
    municipalities: Municipalities
    time_zone: Annotated[str, Field(max_length=64)] = DEFAULT_TIME_ZONE
    red_claim_minutes: ClaimMinutes | None = None
    red_resolve_minutes: ResolveMinutes | None = None


class CentreUpdate(BaseModel):
    """Only the fields named change."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(max_length=400)] | None = None
    org_number: Annotated[str, Field(max_length=16)] | None = None
    municipalities: Municipalities | None = None
    time_zone: Annotated[str, Field(max_length=64)] | None = None
    red_claim_minutes: ClaimMinutes | None = None
    red_resolve_minutes: ResolveMinutes | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> CentreUpdate:
        if not {k for k in self.model_fields_set if getattr(self, k) is not None}:
            raise ValueError("an update names at least one field")
        return self


class CentreRead(BaseModel):
    id: str
    name: str
    org_number: str | None
    municipalities: list[str]
    time_zone: str
    red_claim_minutes: int
    red_resolve_minutes: int
    created_at: datetime
