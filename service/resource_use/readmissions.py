"""30-day readmissions after a hospital discharge, before enrolment and in follow-up.
Pure.

A discharge counts on the side (before, after) its moment falls in, and only once
30 days after it have passed by the period's end, so every discharge counted had its
whole 30 days to be followed by a readmission. It is readmitted when another hospital
stay of the same patient begins after the discharge and within 30 days of it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta

from service.resource_use.evaluation_schemas import Figure, Readmission, Readmissions
from service.resource_use.facts import ExternalFacts, PatientFacts, side_of, windows
from service.resource_use.models import ExternalKind
from service.resource_use.periods import Period

WITHIN = timedelta(days=30)


def compute(
    externals: Sequence[ExternalFacts], patients: Sequence[PatientFacts], period: Period
) -> Readmissions:
    windows_of = {p.id: windows(p, period) for p in patients}
    stays: dict[str, list[ExternalFacts]] = defaultdict(list)
    for event in externals:
        if event.kind == ExternalKind.hospital_stay.value and event.patient_id in windows_of:
            stays[event.patient_id].append(event)
    discharges, readmitted = [0, 0], [0, 0]
    for patient_id, mine in stays.items():
        for stay in mine:
            out = stay.ended_at
            if out is None or out + WITHIN > period.end:
                continue
            side = side_of(windows_of[patient_id], out)
            if side is None:
                continue
            discharges[side] += 1
            readmitted[side] += any(out < other.started_at <= out + WITHIN for other in mine)
    return Readmissions(
        before=_one(discharges[0], readmitted[0]), after=_one(discharges[1], readmitted[1])
    )


def _one(discharges: int, readmitted: int) -> Readmission:
    nonzero = [c for c in (discharges, readmitted) if c]
    return Readmission(
        discharges=Figure.counted(discharges),
        readmitted=Figure.counted(readmitted),
        share=Figure.of(readmitted / discharges if discharges else None, min(nonzero, default=0)),
    )
