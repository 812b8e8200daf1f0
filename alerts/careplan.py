"""The patient's self-management plan as the rules see it.

Every field that may be None or empty falls back to the protocol: the plan only records where
this patient differs from the population default, which is what the nurse and the GP agreed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from alerts.model import Band, require_aware


class PlanStatus(StrEnum):
    """A paused (hospital stay, holiday) or ended patient must raise nothing."""

    ACTIVE = "active"
    PAUSED = "paused"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class Schedule:
    """How often a measurement is expected, and how much slack before it counts as missing.

    every_hours: one reading per this many hours (24 daily, 168 weekly).
    window_hours: how long after the due time a reading still counts as on schedule; people
        measure "in the morning", not at the same minute every day.
    grace_hours: further slack for a gateway that was offline, before the centre is asked to
        act. A measurement is missing once `every + window + grace` hours have passed.
    """

    every_hours: float
    window_hours: float = 0.0
    grace_hours: float = 0.0

    def __post_init__(self) -> None:
        if self.every_hours <= 0 or self.window_hours < 0 or self.grace_hours < 0:
            raise ValueError(f"schedule needs every_hours > 0 and no negative slack: {self}")

    @property
    def missing_after(self) -> timedelta:
        return timedelta(hours=self.every_hours + self.window_hours + self.grace_hours)


@dataclass(frozen=True, slots=True, kw_only=True)
class CarePlan:
    """What the rules need from the care plan; everything else stays in the service.

    bands: personal thresholds per measurement; a measurement without one uses the protocol
        default. Red limits are never looser than the protocol's safety limits.
    trial_ends_at: readings taken before this are judged by the safety limits only, because
        the patient's normal values are still being learnt.
    consecutive_required: the rule of three, per rule code ("threshold.high") or per rule and
        measurement ("threshold.high:systolic", which wins).
    schedule: per measurement, a Schedule replacing the protocol's, or None to expect nothing.
    spo2_scale: NEWS2 SpO2 scale (1 or 2); scale 2 is a clinician's decision for a patient
        with hypercapnic respiratory failure, so the plan may override the protocol.
    """

    protocol: str
    status: PlanStatus = PlanStatus.ACTIVE
    bands: Mapping[str, Band] = field(default_factory=dict)
    trial_ends_at: datetime | None = None
    consecutive_required: Mapping[str, int] = field(default_factory=dict)
    weight_gain_kg: float | None = None
    weight_gain_days: float | None = None
    spo2_baseline: float | None = None
    spo2_drop_points: float | None = None
    spo2_scale: int | None = None
    schedule: Mapping[str, Schedule | None] = field(default_factory=dict)
    device_silence_hours: float | None = None

    def __post_init__(self) -> None:
        if self.trial_ends_at is not None:
            require_aware(self.trial_ends_at, "trial_ends_at")
        if any(n < 1 for n in self.consecutive_required.values()):
            raise ValueError("consecutive_required counts must be at least 1")
        if self.spo2_scale not in (None, 1, 2):
            raise ValueError(f"spo2_scale must be 1 or 2, got {self.spo2_scale}")
        positive = (self.weight_gain_kg, self.weight_gain_days, self.spo2_drop_points)
        if any(v is not None and v <= 0 for v in positive):
            raise ValueError("weight gain and SpO2 drop parameters must be positive")
        if self.device_silence_hours is not None and self.device_silence_hours <= 0:
            raise ValueError("device_silence_hours must be positive")

    @property
    def active(self) -> bool:
        return self.status == PlanStatus.ACTIVE

    def in_trial(self, at: datetime) -> bool:
        """Judged at the reading's own time, so a late trial reading keeps trial rules."""
        return self.trial_ends_at is not None and at < self.trial_ends_at
