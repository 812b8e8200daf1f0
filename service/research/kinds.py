"""The kinds of source rows an export reads, each described once.

A kind is one source table read for one export table: readings, findings and queue
items each fill their own table; nurse actions and events outside the service both
fill ``resource_use``. The export's reads (``repository``: the window, the order, the
keyset and the cut), the writers (which table, which FHIR resource type) and the
aggregates (what a row is counted by) all take their facts about a kind from here,
so adding one, or moving one to another table, is one entry, not five dispatch tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Kind:
    name: str
    # The export table its rows are written to.
    table: str
    # The FHIR resource each row becomes.
    resource_type: str
    # The source column of the row's time: the study's window, the order, the keyset.
    at: str
    # The source column of when the row was stored: the export's cut.
    recorded: str
    # The table-row column the aggregates count it by.
    category: str

    def time_of(self, row: Any) -> datetime:
        moment: datetime = getattr(row, self.at)
        return moment


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("readings", "readings", "Observation", "effective_at", "received_at", "measurement"),
        Kind("findings", "findings", "DetectedIssue", "effective_at", "created_at", "rule"),
        Kind("items", "items", "Task", "opened_at", "opened_at", "severity"),
        Kind("nurse_actions", "resource_use", "Procedure", "occurred_at", "recorded_at", "kind"),
        Kind("external", "resource_use", "Encounter", "started_at", "recorded_at", "kind"),
    )
}
PATIENTS = "patients"
ROW_TABLES = tuple(dict.fromkeys(k.table for k in KINDS.values()))


def of_table(table: str) -> tuple[str, ...]:
    """The kinds written to ``table``, in reading order."""
    return tuple(k.name for k in KINDS.values() if k.table == table)


def resource_types(table: str) -> tuple[str, ...]:
    """The FHIR resource types ``table`` is written as."""
    if table == PATIENTS:
        return ("Patient",)
    return tuple(k.resource_type for k in KINDS.values() if k.table == table)
