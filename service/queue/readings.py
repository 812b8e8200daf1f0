"""Stored readings as the rules see them: one ``alerts.Reading`` per value.

A blood-pressure panel is one stored Observation and two readings (systolic, diastolic)
that share its id, which is how ``alerts`` knows they came together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import alerts

# Stored measurement keys the rules know under another name.
RULE_KEYS = {"glucose_capillary": "glucose"}

# Stored keys whose values arrive as components (a panel), with the keys the rules schedule.
PANEL_PARTS = {"blood_pressure": ("systolic", "diastolic")}


def rule_key(measurement: str) -> str:
    return RULE_KEYS.get(measurement, measurement)


def to_readings(
    observation_id: str,
    device_id: str | None,
    components: Iterable[Mapping[str, Any]] | None,
    effective_at: datetime,
    received_at: datetime,
) -> list[alerts.Reading]:
    readings = []
    for component in components or ():
        value = component.get("value")
        if value is None:
            continue
        readings.append(
            alerts.Reading(
                reading_id=observation_id,
                measurement=rule_key(component["measurement"]),
                value=float(value),
                effective_at=effective_at,
                received_at=received_at,
                device_id=device_id,
            )
        )
    return readings


def from_row(row: Any) -> list[alerts.Reading]:
    return to_readings(row.id, row.device_id, row.components, row.effective_at, row.received_at)
