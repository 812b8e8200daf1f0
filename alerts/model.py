"""The plain data the triage core takes and gives back.

Everything here is frozen: a finding is evidence that may be journalled, and a reading or a
care plan must not change under a rule while it is being judged. Timestamps are tz-aware
because a naive time from a device with a wrong clock is exactly the bug the domain warns about.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Severity(StrEnum):
    """The traffic light. Compares by urgency (red worst), never alphabetically."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @classmethod
    def worst(cls, severities: Iterable[Severity]) -> Severity:
        """Green when there is nothing: no finding means "as usual"."""
        return max(severities, default=cls.GREEN)

    # A StrEnum would otherwise sort "green" < "red" < "yellow"; max() must give red.
    def __lt__(self, other: str) -> bool:
        if isinstance(other, Severity):
            return self.rank < other.rank
        return NotImplemented

    def __le__(self, other: str) -> bool:
        if isinstance(other, Severity):
            return self.rank <= other.rank
        return NotImplemented

    def __gt__(self, other: str) -> bool:
        if isinstance(other, Severity):
            return self.rank > other.rank
        return NotImplemented

    def __ge__(self, other: str) -> bool:
        if isinstance(other, Severity):
            return self.rank >= other.rank
        return NotImplemented


_RANK = {Severity.GREEN: 0, Severity.YELLOW: 1, Severity.RED: 2}


class Direction(StrEnum):
    """Snoozes are per rule and direction, so a muted "high" never hides a later "low"."""

    HIGH = "high"
    LOW = "low"


class Rule(StrEnum):
    """Stable rule codes: stored with findings and snoozes, so never rename one."""

    THRESHOLD_HIGH = "threshold.high"
    THRESHOLD_LOW = "threshold.low"
    NEWS2_AGGREGATE = "news2.aggregate"
    NEWS2_SINGLE_PARAMETER = "news2.single_parameter"
    WEIGHT_GAIN = "trend.weight_gain"
    SPO2_DROP = "trend.spo2_drop"
    MISSING_READING = "missing.reading"
    DEVICE_SILENT = "device.silent"
    DEVICE_CLOCK = "device.clock"
    # Raised by the service, not by a rule here: readings of a patient who has no care
    # plan cannot be judged, and someone must know.
    CAREPLAN_MISSING = "careplan.missing"


@dataclass(frozen=True, slots=True)
class LocalText:
    """Text shown to people comes in Norwegian (bokmål) and English, always both."""

    nb: str
    en: str


def require_aware(value: datetime, name: str) -> None:
    """Refuse naive datetimes early: comparing them later fails far from the cause."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """One measured value. A blood-pressure panel gives two, sharing reading_id."""

    reading_id: str
    measurement: str
    value: float
    effective_at: datetime
    received_at: datetime
    device_id: str | None = None
    on_oxygen: bool = False

    def __post_init__(self) -> None:
        if not math.isfinite(self.value):
            raise ValueError(f"reading {self.reading_id}: value must be finite")
        require_aware(self.effective_at, "effective_at")
        require_aware(self.received_at, "received_at")

    @property
    def key(self) -> tuple[str, str]:
        """Identity of a reading: the Observation plus the component it came from."""
        return (self.reading_id, self.measurement)


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """Why the follow-up centre should look at this patient.

    reading_ids[0] is the anchor: the reading this finding was raised for; the rest are the
    readings it also rests on. The service records (rule, reading_ids[0]) and passes those
    pairs back as `already_fired`, which is what stops a rule firing twice on one reading.
    Findings without readings (missing readings, silent devices) have an empty tuple and
    a stable effective_at for the same gap, so the service deduplicates on that instead.
    """

    rule: Rule
    severity: Severity
    measurement: str | None
    direction: Direction | None
    reading_ids: tuple[str, ...]
    reason_nb: str
    reason_en: str
    value: float | None = None
    threshold: float | None = None
    late: bool = False
    technical: bool = False
    # Beyond a protocol's red safety limit (or NEWS2 >= 7): the patient is told to call 113.
    critical: bool = False
    device_id: str | None = None
    effective_at: datetime | None = None

    @property
    def fired_key(self) -> tuple[str, str] | None:
        if not self.reading_ids:
            return None
        return (str(self.rule), self.reading_ids[0])


@dataclass(frozen=True, slots=True)
class Judgement:
    """Where one value falls in a band, and which limit it crossed (for the reason text)."""

    severity: Severity
    direction: Direction | None = None
    limit: float | None = None


GREEN = Judgement(Severity.GREEN)


@dataclass(frozen=True, slots=True)
class Band:
    """Limits for one measurement.

    Exact semantics (the red limits are the first red value, the yellow limits the last
    green value, so a protocol reads like a clinical chart):

        value <= red_low  or value >= red_high    -> red
        value <  yellow_low or value > yellow_high -> yellow
        otherwise                                   -> green

    Red is checked first, so a band whose yellow side is missing still has its red edge.
    For whole-number measurements "yellow from 160" is written yellow_high=159.
    """

    red_low: float | None = None
    yellow_low: float | None = None
    yellow_high: float | None = None
    red_high: float | None = None

    def __post_init__(self) -> None:
        limits = (self.red_low, self.yellow_low, self.yellow_high, self.red_high)
        present = [v for v in limits if v is not None]
        if any(not math.isfinite(v) for v in present):
            raise ValueError(f"band limits must be finite: {self}")
        if present != sorted(present):
            raise ValueError(f"band limits out of order: {self}")
        if self.red_low is not None and self.red_high is not None and self.red_low >= self.red_high:
            raise ValueError(f"red_low must be below red_high: {self}")

    def classify(self, value: float) -> Judgement:
        if self.red_low is not None and value <= self.red_low:
            return Judgement(Severity.RED, Direction.LOW, self.red_low)
        if self.red_high is not None and value >= self.red_high:
            return Judgement(Severity.RED, Direction.HIGH, self.red_high)
        if self.yellow_low is not None and value < self.yellow_low:
            return Judgement(Severity.YELLOW, Direction.LOW, self.yellow_low)
        if self.yellow_high is not None and value > self.yellow_high:
            return Judgement(Severity.YELLOW, Direction.HIGH, self.yellow_high)
        return GREEN

    def tightened(self, safety: Band) -> Band:
        """This band with red limits no looser than `safety`: critical values cannot be muted.

        Yellow limits are pulled inside the new red limits so the band stays ordered.
        """
        red_low = _outer_max(self.red_low, safety.red_low)
        red_high = _outer_min(self.red_high, safety.red_high)
        yellow_low = self.yellow_low
        if yellow_low is not None and red_low is not None:
            yellow_low = max(yellow_low, red_low)
        yellow_high = self.yellow_high
        if yellow_high is not None and red_high is not None:
            yellow_high = min(yellow_high, red_high)
        return Band(red_low, yellow_low, yellow_high, red_high)


def _outer_max(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


def _outer_min(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)
