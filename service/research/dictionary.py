"""The tables an export writes, column by column: the data dictionary as data.

The same definitions drive the CSV header, the Parquet schema, the written
``data-dictionary.csv`` and the study's choice of variables, so the dictionary cannot
drift from the files it describes.

Variables (what a study may release) are the patient attributes one by one and the
other tables as wholes: ``age_band``, ``sex``, ``region``, ``protocol``,
``enrolment_period``, ``enrolled_at``, ``status``, and ``readings``, ``findings``,
``items``, ``resource_use``. Pseudonyms, and the times that give a row its place, always
go with a released table: without them the rows mean nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.fhirkit.catalogue import LOINC, UCUM

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


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # string, integer, decimal, boolean, datetime
    description: str
    transformation: str = "none"
    unit: str | None = None
    code_system: str | None = None
    variable: str | None = None  # the study variable that releases it; None: always


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
    Column("enrolled_at", "datetime", "enrolment time", SHIFTED, variable="enrolled_at"),
    Column("status", "string", "follow-up status now: active, paused or ended", variable="status"),
)

READINGS = (
    Column("reading", "string", "the reading's pseudonym", PSEUDONYM),
    Column("patient", "string", "the patient's pseudonym", PSEUDONYM),
    Column("measurement", "string", "what was measured", code_system=MEASUREMENTS),
    Column("code", "string", "the measurement's code", code_system=LOINC),
    Column(
        "value",
        "decimal",
        "the value in the canonical unit (not for panels)",
        ROUNDED,
        code_system=UCUM,
    ),
    Column("unit", "string", "canonical UCUM unit of value", code_system=UCUM),
    Column("systolic", "decimal", "blood pressure panel: systolic", ROUNDED, unit="mm[Hg]"),
    Column("diastolic", "decimal", "blood pressure panel: diastolic", ROUNDED, unit="mm[Hg]"),
    Column("effective_at", "datetime", "when it was measured", SHIFTED),
    Column("day", "integer", "whole days since enrolment", "computed from true times", unit="d"),
    Column("time_doubtful", "boolean", "the device's clock or offset was in doubt"),
)

FINDINGS = (
    Column("finding", "string", "the finding's pseudonym", PSEUDONYM),
    Column("patient", "string", "the patient's pseudonym", PSEUDONYM),
    Column("item", "string", "pseudonym of the queue item it raised or joined", PSEUDONYM),
    Column("reading", "string", "pseudonym of the reading it rests on", PSEUDONYM),
    Column("rule", "string", "the triage rule", code_system=RULES),
    Column("severity", "string", "red or yellow", code_system=COLOURS),
    Column("measurement", "string", "the measurement concerned", code_system=MEASUREMENTS),
    Column("direction", "string", "high or low"),
    Column("value", "decimal", "the value judged", ROUNDED),
    Column("threshold", "decimal", "the limit it crossed", ROUNDED),
    Column("late", "boolean", "judged after later readings had arrived"),
    Column("technical", "boolean", "a technical finding (no care plan, device)"),
    Column("critical", "boolean", "beyond a red safety limit"),
    Column("snoozed", "boolean", "muted by a nurse's snooze"),
    Column("effective_at", "datetime", "the reading's time or the gap's", SHIFTED),
)

ITEMS = (
    Column("item", "string", "the queue item's pseudonym", PSEUDONYM),
    Column("patient", "string", "the patient's pseudonym", PSEUDONYM),
    Column("severity", "string", "red or yellow (its worst finding)", code_system=COLOURS),
    Column("state", "string", "open, claimed, snoozed or resolved"),
    Column("critical", "boolean", "a finding beyond a red safety limit"),
    Column("technical", "boolean", "raised by a technical finding"),
    Column("back_in_range", "boolean", "its values read in band again"),
    Column("opened_at", "datetime", "when it was opened", SHIFTED),
    Column("claimed_at", "datetime", "when a nurse claimed it", SHIFTED),
    Column("resolved_at", "datetime", "when it was resolved", SHIFTED),
    Column("outcome", "string", "how it was resolved", code_system=OUTCOMES),
    Column("actions", "string", "what the nurse did, ';'-separated", code_system=ACTIONS),
    Column("minutes", "decimal", "nurse minutes spent", ROUNDED, unit="min"),
    Column("escalation", "string", "why it was escalated, if it was"),
)

RESOURCE_USE_COLUMNS = (
    Column("event", "string", "the event's pseudonym", PSEUDONYM),
    Column("patient", "string", "the patient's pseudonym", PSEUDONYM),
    Column("source", "string", "nurse_action (logged in the service) or external"),
    Column("kind", "string", "the action or the external event", code_system=RESOURCE_USE),
    Column("item", "string", "pseudonym of the queue item it was logged for", PSEUDONYM),
    Column("minutes", "decimal", "nurse minutes (nurse actions)", ROUNDED, unit="min"),
    Column("started_at", "datetime", "when it happened or began", SHIFTED),
    Column("ended_at", "datetime", "when it ended (stays)", SHIFTED),
    Column("hours_per_week", "decimal", "home-care level from started_at on", ROUNDED, unit="h/wk"),
)

TABLES: dict[str, tuple[Column, ...]] = {
    "patients": PATIENTS,
    "readings": READINGS,
    "findings": FINDINGS,
    "items": ITEMS,
    "resource_use": RESOURCE_USE_COLUMNS,
}

PATIENT_VARIABLES = tuple(c.variable for c in PATIENTS if c.variable is not None)
TABLE_VARIABLES = ("readings", "findings", "items", "resource_use")
VARIABLES = (*PATIENT_VARIABLES, *TABLE_VARIABLES)


def columns(table: str, released: frozenset[str]) -> tuple[Column, ...]:
    return tuple(c for c in TABLES[table] if c.variable is None or c.variable in released)


def tables(released: frozenset[str]) -> tuple[str, ...]:
    """The tables an export with these variables writes; patients always."""
    return ("patients", *(t for t in TABLE_VARIABLES if t in released))


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
