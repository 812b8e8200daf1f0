"""Top- and bottom-coding of extreme values, where the study says so.

A body weight of 212 kg or an SpO2 of 61 % can single a patient out as surely as a
birth date. A study may therefore set, per measurement, a low and a high limit (in the
canonical unit): values beyond them are written as the limit itself, in readings and
in the findings whose value is a reading's (``records.READING_VALUED_RULES``), so the
files agree with each other. The report counts the values coded per measurement; the
dictionary says which columns are coded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Limit:
    low: float | None = None
    high: float | None = None


@dataclass
class ValueLimits:
    """The study's limits, and how many values each has coded so far in this export."""

    limits: Mapping[str, Limit]
    coded: Counter[str] = field(default_factory=Counter)
    # Off while rows are coded only to be counted in the aggregates: the report counts
    # the coded values of the rows written, not of rows no one will see.
    counting: bool = True

    @classmethod
    def of(cls, settings: Mapping[str, Any] | None) -> ValueLimits:
        return cls(
            {
                measurement: Limit(limit.get("low"), limit.get("high"))
                for measurement, limit in (settings or {}).items()
            }
        )

    def code(self, measurement: str | None, value: float | None) -> float | None:
        if value is None or measurement is None:
            return value
        limit = self.limits.get(measurement)
        if limit is None:
            return value
        if limit.high is not None and value > limit.high:
            self.coded[measurement] += self.counting
            return limit.high
        if limit.low is not None and value < limit.low:
            self.coded[measurement] += self.counting
            return limit.low
        return value

    def describe(self) -> dict[str, Any]:
        """For the report: the limits and the values coded at each."""
        return {
            measurement: {
                "low": limit.low,
                "high": limit.high,
                "values_coded": self.coded[measurement],
            }
            for measurement, limit in sorted(self.limits.items())
        }
