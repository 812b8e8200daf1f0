"""The tables an export writes, column by column: the data dictionary as data.

The same definitions drive the CSV header, the Parquet schema, the FHIR resources
(built from the released columns only, ``service.research.records``), the written
``data-dictionary.csv`` and the study's choice of variables, so the dictionary cannot
drift from the files it describes.

Variables (what a study may release, for data minimisation):

- the patient attributes one by one: ``age_band``, ``sex``, ``region``, ``protocol``,
  ``enrolment_period``, ``enrolled_at``, ``status``;
- a row table whole (``readings``, ``findings``, ``items``, ``resource_use``), or column
  by column as ``<table>.<column>`` (``readings.value``, ``items.minutes``, ...). A
  table's key columns (its pseudonym, the patient's, what the row is and when) go with
  any released column of it: without them the rows mean nothing;
- ``aggregates``: counts per protocol and 30-day period since enrolment, with small
  cells suppressed (``service.research.aggregates``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from service.fhirkit.catalogue import LOINC, UCUM
from service.research import kinds

RULES = "https://fhir.dho.example/CodeSystem/triage-rule"
COLOURS = "https://fhir.dho.example/CodeSystem/triage-colour"
OUTCOMES = "https://fhir.dho.example/CodeSystem/triage-outcome"
ACTIONS = "https://fhir.dho.example/CodeSystem/nurse-action"
RESOURCE_USE = "https://fhir.dho.example/CodeSystem/resource-use"
PROTOCOLS = "https://fhir.dho.example/CodeSystem/protocol"
MEASUREMENTS = "https://fhir.dho.example/CodeSystem/measurement"

PSEUDONYM = "HMAC-SHA256 of the internal id under the study's key (hex)"
SHIFTED = "shifted by the patient's offset, truncated to the study's precision (UTC)"
ROUNDED = "rounded to 4 decimals"
CODED = "rounded to 4 decimals; top- and bottom-coded at the study's limits, if any"
EXACT = (
    "computed from the true times, before the shift and the truncation to the study's "
    "precision; exact to 4 decimals"
)


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # string, integer, decimal, boolean, datetime
    description: str
    transformation: str = "none"
    unit: str | None = None
    code_system: str | None = None
    # The study variable that releases it; None: a key column, always with its table.
    variable: str | None = None


def _row_table(table: str, *cols: Column) -> tuple[Column, ...]:
    """Name each non-key column's variable ``<table>.<variable>``."""
    return tuple(
        c if c.variable is None else replace(c, variable=f"{table}.{c.variable}") for c in cols
    )


PATIENTS = (
    Column("patient", "string", "the patient's pseudonym", PSEUDONYM),
    Column(
        "age_band",
        "string",
        "age at enrolment",
        "5-, 10- or 20-year band; 90+ (80+) top-coded",
        unit="a",
        variable="age_band",
    ),
    Column(
        "sex",
        "string",
        "administrative gender",
        code_system="http://hl7.org/fhir/administrative-gender",
        variable="sex",
    ),
    Column(
        "region",
        "string",
        "county (fylke) of residence",
        "first two digits of the kommunenummer",
        variable="region",
    ),
    Column(
        "protocol",
        "string",
        "the care plan's protocol (newest version)",
        code_system=PROTOCOLS,
        variable="protocol",
    ),
    Column(
        "enrolment_period",
        "string",
        "enrolment quarter or year (true calendar)",
        "generalised to quarter, year or left out by the k-anonymity ladder",
        variable="enrolment_period",
    ),
    Column(
        "enrolled_at",
        "datetime",
        "enrolment time",
        SHIFTED + "; empty where the k-anonymity ladder withheld it",
        variable="enrolled_at",
    ),
    Column(
        "status",
        "string",
        "follow-up status now: active, paused or ended",
        variable="status",
    ),
)

READINGS = _row_table(
    "readings",
    Column("reading", "string", "the reading's pseudonym", PSEUDONYM),
    Column("patient", "string", "the patient's pseudonym", PSEUDONYM),
    Column("measurement", "string", "what was measured", code_system=MEASUREMENTS),
    Column("code", "string", "the measurement's code", code_system=LOINC),
    Column("status", "string", "the Observation's status (final, amended, ...)"),
    Column(
        "value",
        "decimal",
        "the value in the canonical unit (not for panels)",
        CODED,
        code_system=UCUM,
        variable="value",
    ),
    Column("unit", "string", "canonical UCUM unit of value", code_system=UCUM, variable="value"),
    Column(
        "systolic",
        "decimal",
        "blood pressure panel: systolic",
        CODED,
        unit="mm[Hg]",
        variable="blood_pressure",
    ),
    Column(
        "diastolic",
        "decimal",
        "blood pressure panel: diastolic",
        CODED,
        unit="mm[Hg]",
        variable="blood_pressure",
    ),
    Column("effective_at", "datetime", "when it was measured", SHIFTED),
    Column(
        "day",
        "integer",
        "whole days since enrolment",
        "computed from true times",
        unit="d",
        variable="day",
    ),
    Column(
        "time_doubtful",
        "boolean",
        "the device's clock or offset was in doubt",
        variable="time_doubtful",
    ),
)

FINDINGS = _row_table(
    "findings",
    Column("finding", "string", "the finding's pseudonym", PSEUDONYM),
    Column("patient", "string", "the patient's pseudonym", PSEUDONYM),
    Column("rule", "string", "the triage rule", code_system=RULES),
    Column("severity", "string", "red or yellow", code_system=COLOURS),
    Column("effective_at", "datetime", "the reading's time or the gap's", SHIFTED),
    Column(
        "item",
        "string",
        "pseudonym of the queue item it raised or joined",
        PSEUDONYM,
        variable="item",
    ),
    Column(
        "reading", "string", "pseudonym of the reading it rests on", PSEUDONYM, variable="reading"
    ),
    Column(
        "evidence",
        "string",
        "pseudonyms of the readings it was judged on, ';'-separated",
        PSEUDONYM,
        variable="evidence",
    ),
    Column(
        "measurement",
        "string",
        "the measurement concerned",
        code_system=MEASUREMENTS,
        variable="measurement",
    ),
    Column("direction", "string", "high or low", variable="direction"),
    Column("value", "decimal", "the value judged", CODED, variable="value"),
    Column("threshold", "decimal", "the limit it crossed", CODED, variable="threshold"),
    Column("late", "boolean", "judged after later readings had arrived", variable="late"),
    Column(
        "technical",
        "boolean",
        "a technical finding (no care plan, device)",
        variable="technical",
    ),
    Column("critical", "boolean", "beyond a red safety limit", variable="critical"),
    Column("snoozed", "boolean", "muted by a nurse's snooze", variable="snoozed"),
)

ITEMS = _row_table(
    "items",
    Column("item", "string", "the queue item's pseudonym", PSEUDONYM),
    Column("patient", "string", "the patient's pseudonym", PSEUDONYM),
    Column("severity", "string", "red or yellow (its worst finding)", code_system=COLOURS),
    Column("state", "string", "open, claimed, snoozed or resolved"),
    Column("opened_at", "datetime", "when it was opened", SHIFTED),
    Column("critical", "boolean", "a finding beyond a red safety limit", variable="critical"),
    Column("technical", "boolean", "raised by a technical finding", variable="technical"),
    Column(
        "back_in_range",
        "boolean",
        "its values read in band again",
        variable="back_in_range",
    ),
    Column("claimed_at", "datetime", "when a nurse claimed it", SHIFTED, variable="claimed_at"),
    Column("resolved_at", "datetime", "when it was resolved", SHIFTED, variable="resolved_at"),
    Column(
        "minutes_to_claim",
        "decimal",
        "minutes from opening until a nurse claimed it",
        EXACT,
        unit="min",
        variable="minutes_to_claim",
    ),
    Column(
        "minutes_to_resolve",
        "decimal",
        "minutes from opening until it was resolved",
        EXACT,
        unit="min",
        variable="minutes_to_resolve",
    ),
    Column(
        "outcome",
        "string",
        "how it was resolved",
        code_system=OUTCOMES,
        variable="outcome",
    ),
    Column(
        "actions",
        "string",
        "what the nurse did, ';'-separated",
        code_system=ACTIONS,
        variable="actions",
    ),
    Column("minutes", "decimal", "nurse minutes spent", ROUNDED, unit="min", variable="minutes"),
    Column("escalation", "string", "why it was escalated, if it was", variable="escalation"),
)

RESOURCE_USE_COLUMNS = _row_table(
    "resource_use",
    Column("event", "string", "the event's pseudonym", PSEUDONYM),
    Column("patient", "string", "the patient's pseudonym", PSEUDONYM),
    Column("source", "string", "nurse_action (logged in the service) or external"),
    Column("kind", "string", "the action or the external event", code_system=RESOURCE_USE),
    Column("started_at", "datetime", "when it happened or began", SHIFTED),
    Column(
        "item",
        "string",
        "pseudonym of the queue item it was logged for",
        PSEUDONYM,
        variable="item",
    ),
    Column(
        "minutes",
        "decimal",
        "nurse minutes (nurse actions)",
        ROUNDED,
        unit="min",
        variable="minutes",
    ),
    Column(
        "ended_at",
        "datetime",
        "when it ended (stays; nurse actions: start plus minutes)",
        SHIFTED,
        variable="ended_at",
    ),
    Column(
        "hours_per_week",
        "decimal",
        "home-care level from started_at on",
        ROUNDED,
        unit="h/wk",
        variable="hours_per_week",
    ),
)

AGGREGATES = (
    Column(
        "topic",
        "string",
        "what is counted: readings, findings, items, nurse_actions or external",
    ),
    Column(
        "protocol",
        "string",
        "the care plan's protocol; 'all' if not released",
        code_system=PROTOCOLS,
    ),
    Column(
        "category",
        "string",
        "the measurement, rule, severity, action or event kind counted",
    ),
    Column(
        "period",
        "integer",
        "30-day period since enrolment (0: the first 30 days)",
        "computed from true times",
    ),
    Column(
        "patients",
        "integer",
        "patients with at least one record in the cell",
        "empty if fewer than the cell threshold (see suppressed)",
    ),
    Column("records", "integer", "records in the cell", "empty if the cell is suppressed"),
    Column(
        "minutes",
        "decimal",
        "nurse minutes in the cell (nurse_actions only)",
        "rounded to 1 decimal; empty if the cell is suppressed",
        unit="min",
    ),
    Column(
        "suppressed",
        "boolean",
        "the cell has fewer patients than the threshold: its figures are left out",
    ),
)

TABLES: dict[str, tuple[Column, ...]] = {
    "patients": PATIENTS,
    "readings": READINGS,
    "findings": FINDINGS,
    "items": ITEMS,
    "resource_use": RESOURCE_USE_COLUMNS,
    "aggregates": AGGREGATES,
}

PATIENT_VARIABLES = tuple(c.variable for c in PATIENTS if c.variable is not None)
# The tables of rows, in the order the kinds of rows fill them.
ROW_TABLES = kinds.ROW_TABLES
# What a study releases when it names no variables: everything, table by table.
DEFAULT_VARIABLES = (*PATIENT_VARIABLES, *ROW_TABLES, "aggregates")
COLUMN_VARIABLES = tuple(
    dict.fromkeys(c.variable for t in ROW_TABLES for c in TABLES[t] if c.variable is not None)
)
VARIABLES = (*DEFAULT_VARIABLES, *COLUMN_VARIABLES)


def columns(table: str, released: frozenset[str]) -> tuple[Column, ...]:
    """The columns of ``table`` that leave under ``released``; empty: the table does not."""
    cols = TABLES[table]
    if table == "patients":
        return tuple(c for c in cols if c.variable is None or c.variable in released)
    if table in released:
        return cols
    chosen = tuple(c for c in cols if c.variable is not None and c.variable in released)
    if not chosen:
        return ()
    return tuple(c for c in cols if c.variable is None or c in chosen)


def tables(released: frozenset[str]) -> tuple[str, ...]:
    """The tables an export with these variables writes; patients always."""
    return tuple(t for t in TABLES if t == "patients" or columns(t, released))


DICTIONARY_HEADER = (
    "table",
    "column",
    "type",
    "unit",
    "code_system",
    "transformation",
    "description",
)


def dictionary_rows(released: frozenset[str]) -> list[tuple[str, ...]]:
    return [
        (table, c.name, c.type, c.unit or "", c.code_system or "", c.transformation, c.description)
        for table in tables(released)
        for c in columns(table, released)
    ]
