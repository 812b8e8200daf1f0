"""A reading typed in by hand: which numbers each measurement asks for, and the FHIR
Observation they become.

No rule lives here. The plausible ranges shown to the patient are the catalogue's (the
same data ingest refuses by), and the Observation goes through the API's own ingest, so
a hand-typed reading is judged, deduplicated and audited as a gateway's is. The form
carries a key made when the page was drawn: it becomes the Observation's identifier, so
a resend (a double tap, a tablet that was offline) is stored once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.fhirkit.catalogue import LOINC, UCUM, Catalogue, Measurement

# The identifier system of readings typed on the tablet page; the value is the form's key.
IDENTIFIER_SYSTEM = "https://fhir.dho.example/identifier/tablet-entry"
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"


@dataclass(frozen=True)
class NumberField:
    """One number the patient types: the catalogue measurement it is, in its unit."""

    measurement: str
    ucum: str
    decimals: bool


@dataclass(frozen=True)
class Entry:
    measurement: str
    fields: tuple[NumberField, ...]


ENTRIES: dict[str, Entry] = {
    entry.measurement: entry
    for entry in (
        Entry(
            "blood_pressure",
            (NumberField("systolic", "mm[Hg]", False), NumberField("diastolic", "mm[Hg]", False)),
        ),
        Entry("heart_rate", (NumberField("heart_rate", "/min", False),)),
        Entry("spo2", (NumberField("spo2", "%", False),)),
        Entry("body_weight", (NumberField("body_weight", "kg", True),)),
        Entry("body_temperature", (NumberField("body_temperature", "Cel", True),)),
        Entry("glucose", (NumberField("glucose", "mmol/L", True),)),
        Entry("glucose_capillary", (NumberField("glucose_capillary", "mmol/L", True),)),
    )
}


# A task names what the care plan schedules (``systolic`` for blood pressure): the entry
# page that delivers it.
ENTRY_OF: dict[str, str] = {
    name: entry.measurement
    for entry in ENTRIES.values()
    for name in (entry.measurement, *(field.measurement for field in entry.fields))
}


@dataclass(frozen=True)
class Problem:
    """What is wrong with one field, as a text key and its values."""

    field: str
    key: str
    values: dict[str, Any]


# What a person types from a display: digits, and a decimal comma or point. No exponent,
# no "nan", nothing a display does not show.
_TYPED_NUMBER = re.compile(r"^-?\d{1,6}(?:[.,]\d{1,3})?$")


def parse_number(text: str) -> float | None:
    """``37,8`` and ``37.8`` alike (a Norwegian keyboard writes a comma); None if it is
    not a number as a display shows one."""
    cleaned = text.strip().replace(" ", "")
    if not _TYPED_NUMBER.match(cleaned):
        return None
    return float(cleaned.replace(",", "."))


def read_values(entry: Entry, fields: dict[str, str]) -> tuple[dict[str, float], list[Problem]]:
    """The numbers typed, or what to tell the patient about each one that is not a
    number at all (ranges are the service's to judge, below)."""
    values: dict[str, float] = {}
    problems: list[Problem] = []
    for field in entry.fields:
        text = fields.get(field.measurement, "")
        if not text.strip():
            problems.append(Problem(field.measurement, "me.reading.error.missing", {}))
            continue
        value = parse_number(text)
        if value is None or (not field.decimals and value != int(value)):
            key = "me.reading.error.not_number" if value is None else "me.reading.error.whole"
            problems.append(Problem(field.measurement, key, {}))
            continue
        values[field.measurement] = value
    return values, problems


def range_problem(catalogue: Catalogue, entry: Entry, expression: str | None) -> Problem:
    """The ingest's refusal of a value, in the patient's words: which number, and the
    range the catalogue accepts. ``expression`` is the OperationOutcome's element."""
    index = 0
    if expression and "component[" in expression:
        index = int(expression.split("component[", 1)[1].split("]", 1)[0])
    field = entry.fields[min(index, len(entry.fields) - 1)]
    measurement = catalogue.by_key[field.measurement]
    return Problem(
        field.measurement,
        "me.reading.error.range",
        {"low": measurement.plausible_low, "high": measurement.plausible_high},
    )


def observation(
    catalogue: Catalogue,
    entry: Entry,
    values: dict[str, float],
    patient_id: str,
    key: str,
    taken_at: datetime,
) -> dict[str, Any]:
    """The Observation a device would have sent, with the patient as its performer."""
    panel = catalogue.by_key[entry.measurement]
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "identifier": [{"system": IDENTIFIER_SYSTEM, "value": key}],
        "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": panel.category}]}],
        "code": _code(panel),
        "subject": {"reference": f"Patient/{patient_id}"},
        "performer": [{"reference": f"Patient/{patient_id}"}],
        "effectiveDateTime": taken_at.isoformat(),
    }
    if panel.is_panel:
        resource["component"] = [
            {
                "code": _code(catalogue.by_key[field.measurement]),
                "valueQuantity": _quantity(values[field.measurement], field),
            }
            for field in entry.fields
        ]
    else:
        resource["valueQuantity"] = _quantity(values[entry.fields[0].measurement], entry.fields[0])
    return resource


def _code(measurement: Measurement) -> dict[str, Any]:
    system, code = next(
        ((s, c) for s, c in measurement.codings if s == LOINC), measurement.codings[0]
    )
    return {"coding": [{"system": system, "code": code, "display": measurement.display_en}]}


def _quantity(value: float, field: NumberField) -> dict[str, Any]:
    number: float | int = value if field.decimals else int(value)
    return {"value": number, "unit": field.ucum, "system": UCUM, "code": field.ucum}
