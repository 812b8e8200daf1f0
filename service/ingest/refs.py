"""What the references in one request stand for once resolved: its patients, its
devices (with who held them when), the observations of a Bundle and the coincident
timestamps a reading may be corrected by. One request looks each up once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from service.devices.loans import Loan


@dataclass(frozen=True)
class PatientRef:
    id: str
    centre_id: str
    # What triage needs of the patient (plan, open item), read with the patient in one
    # round trip (``careplans.repository.subject_for_readings``); None: not read.
    triage: Any = field(default=None, compare=False, repr=False)


@dataclass
class DeviceRef:
    id: str
    centre_id: str
    # Who held it when (``service.devices.loans``), read once per request.
    loans: tuple[Loan, ...]
    clock_offset_seconds: float | None
    clock_doubtful: bool


@dataclass(frozen=True)
class CoincidentClock:
    """What one coincident timestamp said about its device's clock."""

    device_id: str
    offset_seconds: float | None
    doubtful: bool


@dataclass
class References:
    """What references in a request stand for, once resolved: ``urn:uuid:`` fullUrls of
    a Bundle's entries, and devices already looked up (one query per device)."""

    patients: dict[str, PatientRef] = field(default_factory=dict)
    devices: dict[str, DeviceRef] = field(default_factory=dict)
    observations: dict[str, str] = field(default_factory=dict)
    # Coincident timestamps by fullUrl or "Observation/{id}": what a reading that
    # references one is corrected by.
    clocks: dict[str, CoincidentClock] = field(default_factory=dict)
    # By device id: the gateway time of the newest coincident timestamp seen.
    newest_clock_at: dict[str, datetime | None] = field(default_factory=dict)

    def only_patient(self) -> PatientRef | None:
        distinct = set(self.patients.values())
        return distinct.pop() if len(distinct) == 1 else None
