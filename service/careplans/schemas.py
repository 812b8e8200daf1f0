"""What a nurse sends and reads: the plan's personalisation over its protocol.

Everything optional falls back to the protocol, as in ``alerts.CarePlan``: a plan records
only where this patient differs from the population default.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PositiveFloat, model_validator

import alerts
from alerts.text import known_measurement

Hours = Annotated[float, Field(ge=0, le=24 * 366)]


class BandSchema(BaseModel):
    """Band semantics as in ``alerts.Band``: red limits are the first red value, yellow
    limits the last green one."""

    model_config = ConfigDict(extra="forbid")

    red_low: float | None = None
    yellow_low: float | None = None
    yellow_high: float | None = None
    red_high: float | None = None

    def to_band(self) -> alerts.Band:
        return alerts.Band(self.red_low, self.yellow_low, self.yellow_high, self.red_high)

    @model_validator(mode="after")
    def _ordered(self) -> BandSchema:
        self.to_band()  # raises ValueError with the limits out of order
        return self


class ScheduleSchema(BaseModel):
    model_config = ConfigDict(extra="forbid")

    every_hours: Annotated[float, Field(gt=0, le=24 * 366)]
    window_hours: Hours = 0
    grace_hours: Hours = 0


class PlanSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bands: dict[str, BandSchema] = Field(default_factory=dict)
    trial_ends_at: AwareDatetime | None = None
    consecutive_required: dict[str, Annotated[int, Field(ge=1, le=20)]] = Field(
        default_factory=dict
    )
    weight_gain_kg: PositiveFloat | None = None
    weight_gain_days: PositiveFloat | None = None
    spo2_baseline: Annotated[float, Field(gt=50, le=100)] | None = None
    spo2_drop_points: PositiveFloat | None = None
    spo2_scale: Literal[1, 2] | None = None
    schedule: dict[str, ScheduleSchema | None] = Field(default_factory=dict)
    device_silence_hours: PositiveFloat | None = None

    @model_validator(mode="after")
    def _known_measurements(self) -> PlanSettings:
        for field_name, keys in (("bands", self.bands), ("schedule", self.schedule)):
            unknown = sorted(k for k in keys if not known_measurement(k))
            if unknown:
                raise ValueError(f"{field_name}: unknown measurement(s) {', '.join(unknown)}")
        rules = {str(rule) for rule in alerts.Rule}
        unknown = sorted(k for k in self.consecutive_required if k.partition(":")[0] not in rules)
        if unknown:
            raise ValueError(f"consecutive_required: unknown rule(s) {', '.join(unknown)}")
        return self


class CarePlanWrite(PlanSettings):
    """A new version of the plan. ``reason`` is required: the history must say why."""

    protocol: str
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class CarePlanPreviewRequest(PlanSettings):
    protocol: str
    days: Annotated[int, Field(ge=1, le=90)] = 30


class CarePlanRead(PlanSettings):
    patient_id: str
    centre_id: str
    version: int
    protocol: str
    reason: str | None
    changed_by: str
    changed_by_role: str
    changed_at: datetime
    in_trial: bool
    # The bands that apply now, per measurement: the plan's, else the protocol's, with
    # red limits no looser than the protocol's safety limits.
    effective_bands: dict[str, BandSchema]


class CarePlanVersionSummary(BaseModel):
    version: int
    protocol: str
    reason: str | None
    changed_by: str
    changed_by_role: str
    changed_at: datetime


class CountBySeverity(BaseModel):
    yellow: int
    red: int


class PlanOutcome(BaseModel):
    items: CountBySeverity
    findings: CountBySeverity
    findings_by_rule: dict[str, int]


class CarePlanPreview(BaseModel):
    """What the last ``days`` would have raised under each plan.

    Items are counted as a centre works them: at most one per patient per day, of the
    worst severity found that day (the nurse closes the day's item before the next).
    """

    days: int
    readings: int
    current: PlanOutcome | None
    proposed: PlanOutcome


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["active", "paused", "ended"]
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class PatientStatusRead(BaseModel):
    patient_id: str
    status: str
    active_since: datetime | None


def settings_of(plan: PlanSettings) -> dict[str, Any]:
    """The stored form of a plan's personalisation: what the nurse set, nothing more
    (a schedule set to null, "expect nothing", must survive)."""
    fields = set(PlanSettings.model_fields)
    return plan.model_dump(mode="json", include=fields, exclude_unset=True)


class ProposedBands(BaseModel):
    """Personal bands from the patient's own readings, for a nurse to accept (PUT the plan
    with them) or edit. Measurements with too few readings get no proposal."""

    since: datetime
    until: datetime
    readings: int
    bands: dict[str, BandSchema]
