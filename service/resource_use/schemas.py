"""What the resource-use log and the external-event endpoints take and answer.

A correction names only what changes; the rest is copied from the row it corrects, so
the new row is whole and the figures read heads of chains without joining back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from service.queue.schemas import Action
from service.resource_use.models import ExternalKind

Minutes = Annotated[float, Field(ge=0, le=24 * 60)]
Note = Annotated[str, Field(max_length=4000)]
HoursPerWeek = Annotated[float, Field(ge=0, le=7 * 24)]

# Kinds that last (a stay, a level of home care): they may carry an end.
LASTING = frozenset(
    {
        ExternalKind.hospital_stay,
        ExternalKind.municipal_acute_bed,
        ExternalKind.short_term_stay,
        ExternalKind.home_care_hours,
    }
)


class ResourceUseCreate(BaseModel):
    """A nurse action without a queue item: a planned weekly call, the start-up visit."""

    model_config = ConfigDict(extra="forbid")

    action: Action
    minutes: Minutes
    # When it happened; by default now. Never in the future.
    occurred_at: AwareDatetime | None = None
    note: Note | None = None


class ResourceUseCorrection(BaseModel):
    """What was wrong with an event, or ``retracted``: it never happened."""

    model_config = ConfigDict(extra="forbid")

    action: Action | None = None
    minutes: Minutes | None = None
    occurred_at: AwareDatetime | None = None
    note: Note | None = None
    retracted: bool = False

    @model_validator(mode="after")
    def _changes_something(self) -> ResourceUseCorrection:
        if not self.retracted and not self.model_fields_set - {"retracted"}:
            raise ValueError("a correction changes action, minutes, occurred_at or note")
        return self


class ResourceUseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    centre_id: str
    patient_id: str
    item_id: str | None
    actor: str
    actor_role: str
    action: str
    minutes: float
    occurred_at: datetime
    recorded_at: datetime
    source: str
    note: str | None
    corrects: str | None
    retracted: bool
    # The row that corrects this one; None for the row the figures count.
    corrected_by: str | None = None


class ExternalEventCreate(BaseModel):
    """An event outside the service. Stays carry their discharge in ``ended_at`` when
    known; ``home_care_hours`` is a weekly level from ``started_at`` (until ``ended_at``
    or the patient's next level)."""

    model_config = ConfigDict(extra="forbid")

    kind: ExternalKind
    started_at: AwareDatetime
    ended_at: AwareDatetime | None = None
    hours_per_week: HoursPerWeek | None = None
    # The reporting system's own id: a retry with the same id stores nothing new.
    external_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ExternalEventCreate:
        check_external(self.kind, self.started_at, self.ended_at, self.hours_per_week)
        return self


class ExternalEventCorrection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ExternalKind | None = None
    started_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    hours_per_week: HoursPerWeek | None = None
    retracted: bool = False

    @model_validator(mode="after")
    def _changes_something(self) -> ExternalEventCorrection:
        if not self.retracted and not self.model_fields_set - {"retracted"}:
            raise ValueError("a correction changes kind, started_at, ended_at or hours_per_week")
        return self


class ExternalEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    centre_id: str
    patient_id: str
    kind: str
    started_at: datetime
    ended_at: datetime | None
    hours_per_week: float | None
    external_id: str | None
    reported_by: str
    reported_by_role: str
    recorded_at: datetime
    corrects: str | None
    retracted: bool
    corrected_by: str | None = None


def check_external(
    kind: ExternalKind,
    started_at: datetime,
    ended_at: datetime | None,
    hours_per_week: float | None,
) -> None:
    """Raises ValueError naming the field: shared by the create and the correction."""
    if ended_at is not None and kind not in LASTING:
        raise ValueError(f"ended_at: a {kind.value} has no end")
    if ended_at is not None and ended_at < started_at:
        raise ValueError("ended_at: before started_at")
    if kind is ExternalKind.home_care_hours and hours_per_week is None:
        raise ValueError("hours_per_week: required for home_care_hours")
    if kind is not ExternalKind.home_care_hours and hours_per_week is not None:
        raise ValueError("hours_per_week: only for home_care_hours")
