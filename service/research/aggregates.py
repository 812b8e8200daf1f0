"""Counts per protocol and 30-day period since enrolment, with small cells suppressed.

For a study that may not take rows away (or a quick look before it asks for them):
readings per measurement, findings per rule, items per severity, nurse actions per
action (with their minutes) and events outside the service per kind, each with the
number of patients behind it. A cell with fewer patients than the threshold (5, or the
study's k if larger) keeps only its labels: the counts are left out, as in official
statistics. No margins or totals are written, so a suppressed cell cannot be recovered
by subtraction from its row or column.

Counted from the released patients only (the k-anonymity decision comes first), so the
aggregates and the row tables describe the same people. Memory is one counter per cell
and one set of the current patient's cells: patients arrive one after the other.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

MIN_PATIENTS = 5
PERIOD_DAYS = 30

Cell = tuple[str, str, str, int]  # topic, protocol, category, period


@dataclass
class Aggregates:
    threshold: int
    _records: Counter[Cell] = field(default_factory=Counter)
    _minutes: dict[Cell, float] = field(default_factory=dict)
    _patients: Counter[Cell] = field(default_factory=Counter)
    _current: str | None = None
    _seen: set[Cell] = field(default_factory=set)
    _suppressed: int = 0

    @classmethod
    def for_study(cls, k: int) -> Aggregates:
        return cls(max(MIN_PATIENTS, k))

    def add(
        self,
        patient: str,
        topic: str,
        protocol: str,
        category: str | None,
        day: int,
        minutes: float | None = None,
    ) -> None:
        if patient != self._current:
            self._close_patient()
            self._current = patient
        cell = (topic, protocol, category or "unknown", day // PERIOD_DAYS)
        self._records[cell] += 1
        if minutes is not None:
            self._minutes[cell] = self._minutes.get(cell, 0.0) + minutes
        self._seen.add(cell)

    def _close_patient(self) -> None:
        for cell in self._seen:
            self._patients[cell] += 1
        self._seen = set()

    def rows(self) -> Iterator[dict[str, Any]]:
        """The table, sorted by its labels; suppressed cells without figures."""
        self._close_patient()
        self._current = None
        self._suppressed = 0
        for cell in sorted(self._records):
            topic, protocol, category, period = cell
            patients = self._patients[cell]
            small = patients < self.threshold
            self._suppressed += small
            yield {
                "topic": topic,
                "protocol": protocol,
                "category": category,
                "period": period,
                "patients": None if small else patients,
                "records": None if small else self._records[cell],
                "minutes": None
                if small or topic != "nurse_actions"
                else round(self._minutes.get(cell, 0.0), 1),
                "suppressed": small,
            }

    def summary(self) -> dict[str, int]:
        """For the report (after ``rows``): the threshold and the cells written and left out."""
        return {
            "cell_threshold": self.threshold,
            "cells": len(self._records),
            "cells_suppressed": self._suppressed,
        }
