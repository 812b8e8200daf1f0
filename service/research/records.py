"""One source row to its table row, and the released part of that row to a FHIR resource.

Two steps, so that data minimisation holds for every format at once: first the full
table row is made from the source row (codes, numbers, pseudonyms, shifted times, and
values top- or bottom-coded at the study's limits); then only the study's released
columns are kept, and the FHIR resource is built from those alone. A column the study
did not ask for can therefore appear in no file, NDJSON included.

Only what is named here leaves: nothing is copied from the stored JSON (which carries
device identifiers, gateway extensions and the original times). Nurses' notes and
reasons, who claimed or resolved an item, who logged an event, device ids, identifiers
and the rules' generated texts are not read at all.

FHIR shapes: the patient as a pseudonymous ``Patient``; readings as ``Observation``;
triage findings as ``DetectedIssue`` (a rule detected something about readings);
queue items as ``Task`` (what the queue is, in all but shape); nurse actions as
``Procedure`` and events outside the service as ``Encounter``, as the resource-use
API has them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from service.fhirkit.catalogue import LOINC, Catalogue
from service.research import care_resources, kinds
from service.research import dictionary as d
from service.research.dates import TimeShift, days_since
from service.research.fhir_parts import ext, present, quantity, split
from service.research.limits import ValueLimits
from service.research.pseudonyms import Pseudonyms

CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"

Record = tuple[dict[str, Any], dict[str, Any]]
Row = dict[str, Any]

_ISSUE_SEVERITY = {"red": "high", "yellow": "moderate"}
_PANEL_PARTS = ("systolic", "diastolic")
# Rules whose finding's value and threshold are a reading's value and a limit on it.
READING_VALUED_RULES = frozenset(
    {"threshold.high", "threshold.low", "news2.single_parameter", "trend.spo2_drop"}
)


def _as_is(_measurement: str | None, value: float | None) -> float | None:
    return value


@dataclass(frozen=True)
class Person:
    """A released patient as the writers see them: the internal id stays in memory."""

    id: str
    pseudonym: str
    shift: TimeShift
    enrolled_at: datetime
    # The aggregates' label: the protocol if the study releases it, else "all".
    protocol: str = "all"

    @property
    def reference(self) -> dict[str, str]:
        return {"reference": f"Patient/{self.pseudonym}"}


def rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def minutes_between(start: datetime | None, end: datetime | None) -> float | None:
    """Exact minutes from ``start`` to ``end`` (true times: a duration read off times
    truncated to the hour could be wrong by up to an hour)."""
    if start is None or end is None:
        return None
    return rounded((end - start).total_seconds() / 60)


def patient(person: Person, values: dict[str, str | None], released: frozenset[str]) -> Record:
    """The patient's row and resource from their values as the k-anonymity decision
    released them (the enrolment time None where the ladder withheld it)."""
    attributes = ("age_band", "sex", "region", "protocol", "enrolment_period", "status")
    full: Row = {
        "patient": person.pseudonym,
        **{name: values.get(name) for name in attributes},
        "enrolled_at": None
        if values.get("enrolled_at") is None
        else person.shift.moment(person.enrolled_at),
    }
    row = {c.name: full[c.name] for c in d.columns("patients", released)}
    extensions = [
        ext("age-band", valueString=row["age_band"]) if row.get("age_band") else None,
        ext("region", valueString=row["region"]) if row.get("region") else None,
        ext("protocol", valueCode=row["protocol"]) if row.get("protocol") else None,
        ext("enrolment-period", valueString=row["enrolment_period"])
        if row.get("enrolment_period")
        else None,
        ext("enrolled-at", valueDateTime=person.shift.text(row["enrolled_at"]))
        if row.get("enrolled_at") is not None
        else None,
        ext("status", valueCode=row["status"]) if row.get("status") else None,
    ]
    resource: dict[str, Any] = {"resourceType": "Patient", "id": person.pseudonym}
    if row.get("sex"):
        resource["gender"] = row["sex"]
    if shown := present(extensions):
        resource["extension"] = shown
    return resource, row


class Mapper:
    """One export's mapping: its pseudonyms, catalogue, value limits and released columns."""

    def __init__(
        self,
        names: Pseudonyms,
        catalogue: Catalogue,
        limits: ValueLimits,
        released: frozenset[str],
    ) -> None:
        self.names = names
        self.catalogue = catalogue
        self.limits = limits
        self.released = {
            table: tuple(c.name for c in d.columns(table, released)) for table in kinds.ROW_TABLES
        }
        self._minutes_released = "minutes" in self.released["resource_use"]
        # Each kind's two steps: source row to table row, released row to resource.
        self._steps: dict[str, tuple[Callable[[Any, Person], Row], Callable[[Row, Person], Any]]]
        self._steps = {
            "readings": (self.reading_row, self.reading_resource),
            "findings": (self.finding_row, self.finding_resource),
            "items": (self.item_row, care_resources.task),
            "nurse_actions": (self.nurse_action_row, care_resources.procedure),
            "external": (self.external_row, care_resources.encounter),
        }
        assert set(self._steps) == set(kinds.KINDS), "every kind of row needs its mapping"

    def row(self, kind: str, source: Any, person: Person) -> Row:
        """The full table row of a source row (before the study's choice of columns)."""
        return self._steps[kind][0](source, person)

    def release(self, kind: str, row: Row, person: Person) -> Record:
        """The released columns of ``row`` and the FHIR resource built from them alone."""
        kept = {name: row[name] for name in self.released[kinds.KINDS[kind].table]}
        return self._steps[kind][1](kept, person), kept

    # --- readings -------------------------------------------------------------------

    def reading_row(self, src: Any, person: Person) -> Row:
        # The hot path of an export (millions of rows): the row is unpacked as a tuple
        # (in ``sources.READING_COLUMNS`` order; ten times cheaper than attribute
        # access on a Row), and absent panels and limits cost nothing.
        (row_id, measurement, code_, status, value, unit, components, effective, doubtful) = src
        systolic = diastolic = None
        if components:
            parts = {c.get("measurement"): c.get("value") for c in components}
            systolic, diastolic = parts.get("systolic"), parts.get("diastolic")
        if self.limits.limits:
            code = self.limits.code
            value = code(measurement, value)
            systolic, diastolic = code("systolic", systolic), code("diastolic", diastolic)
        return {
            "reading": self.names.of("Observation", row_id),
            "patient": person.pseudonym,
            "measurement": measurement,
            "code": code_,
            "status": status,
            "value": None if value is None else round(value, 4),
            "unit": unit,
            "systolic": None if systolic is None else round(systolic, 4),
            "diastolic": None if diastolic is None else round(diastolic, 4),
            "effective_at": person.shift.moment(effective),
            "day": days_since(person.enrolled_at, effective),
            "time_doubtful": bool(doubtful),
        }

    def _system(self, measurement_key: str) -> str:
        measurement = self.catalogue.by_key.get(measurement_key)
        if measurement is not None and measurement.loinc is None:
            return self.catalogue.score_system if measurement.category == "survey" else LOINC
        return LOINC

    def reading_resource(self, row: Row, person: Person) -> dict[str, Any]:
        key = row["measurement"]
        resource: dict[str, Any] = {
            "resourceType": "Observation",
            "id": row["reading"],
            "status": row["status"],
            "code": {"coding": [{"system": self._system(key), "code": row["code"]}]},
            "subject": person.reference,
            "effectiveDateTime": person.shift.text(row["effective_at"]),
        }
        if (measurement := self.catalogue.by_key.get(key)) is not None:
            resource["category"] = [
                {"coding": [{"system": CATEGORY, "code": measurement.category}]}
            ]
        if (measured := quantity(row.get("value"), row.get("unit"))) is not None:
            resource["valueQuantity"] = measured
        parts = []
        for part in _PANEL_PARTS:
            value = row.get(part)
            definition = self.catalogue.by_key.get(part)
            if value is not None and definition is not None:
                parts.append(
                    {
                        "code": {"coding": [{"system": LOINC, "code": definition.loinc}]},
                        "valueQuantity": quantity(value, definition.unit),
                    }
                )
        if parts:
            resource["component"] = parts
        return resource

    # --- findings -------------------------------------------------------------------

    def finding_row(self, src: Any, person: Person) -> Row:
        names = self.names
        # Only a reading's value is coded at the reading's limits: a weight gain in kg, a
        # gap in hours or a clock offset in minutes is left as it is.
        code = self.limits.code if src.rule in READING_VALUED_RULES else _as_is
        evidence = [names.of("Observation", r) for r in src.reading_ids or ()]
        return {
            "finding": names.of("DetectedIssue", src.id),
            "patient": person.pseudonym,
            "rule": src.rule,
            "severity": src.severity,
            "effective_at": person.shift.moment(src.effective_at),
            "item": names.of("Task", src.item_id) if src.item_id else None,
            "reading": names.of("Observation", src.observation_id) if src.observation_id else None,
            "evidence": ";".join(evidence) or None,
            "measurement": src.measurement,
            "direction": src.direction,
            "value": rounded(code(src.measurement, src.value)),
            "threshold": rounded(code(src.measurement, src.threshold)),
            "late": bool(src.late),
            "technical": bool(src.technical),
            "critical": bool(src.critical),
            "snoozed": bool(src.snoozed),
        }

    def finding_resource(self, row: Row, person: Person) -> dict[str, Any]:
        def number(name: str) -> dict[str, Any] | None:
            value = row.get(name)
            return None if value is None else ext(name, valueDecimal=value)

        item = row.get("item")
        extensions = [
            ext("triage-colour", valueCoding={"system": d.COLOURS, "code": row["severity"]}),
            ext("measurement", valueCode=row["measurement"]) if row.get("measurement") else None,
            ext("direction", valueCode=row["direction"]) if row.get("direction") else None,
            number("value"),
            number("threshold"),
            ext("queue-item", valueReference={"reference": f"Task/{item}"}) if item else None,
            *(
                ext(flag, valueBoolean=True)
                for flag in ("late", "technical", "critical", "snoozed")
                if row.get(flag)
            ),
        ]
        resource: dict[str, Any] = {
            "resourceType": "DetectedIssue",
            "id": row["finding"],
            "status": "final",
            "code": {"coding": [{"system": d.RULES, "code": row["rule"]}]},
            "severity": _ISSUE_SEVERITY.get(row["severity"], "low"),
            "patient": person.reference,
            "identifiedDateTime": person.shift.text(row["effective_at"]),
            "extension": present(extensions),
        }
        if implicated := split(row.get("evidence")):
            resource["implicated"] = [{"reference": f"Observation/{r}"} for r in implicated]
        return resource

    # --- queue items ----------------------------------------------------------------

    def item_row(self, src: Any, person: Person) -> Row:
        shift = person.shift
        return {
            "item": self.names.of("Task", src.id),
            "patient": person.pseudonym,
            "severity": src.severity,
            "state": src.state,
            "opened_at": shift.moment(src.opened_at),
            "critical": bool(src.critical),
            "technical": bool(src.technical),
            "back_in_range": bool(src.back_in_range),
            "claimed_at": shift.moment(src.claimed_at),
            "resolved_at": shift.moment(src.resolved_at),
            "minutes_to_claim": minutes_between(src.opened_at, src.claimed_at),
            "minutes_to_resolve": minutes_between(src.opened_at, src.resolved_at),
            "outcome": src.outcome,
            "actions": ";".join(str(a) for a in src.actions or ()) or None,
            "minutes": rounded(src.minutes),
            "escalation": src.escalation,
        }

    # --- resource use ---------------------------------------------------------------

    def nurse_action_row(self, src: Any, person: Person) -> Row:
        return {
            "event": self.names.of("Procedure", src.id),
            "patient": person.pseudonym,
            "source": "nurse_action",
            "kind": src.action,
            "started_at": person.shift.moment(src.occurred_at),
            "item": self.names.of("Task", src.item_id) if src.item_id else None,
            "minutes": rounded(src.minutes),
            # Start plus minutes: written only where the minutes are, or it would give
            # them away to a study that did not choose them.
            "ended_at": person.shift.moment(
                src.occurred_at + timedelta(minutes=float(src.minutes or 0))
            )
            if self._minutes_released
            else None,
            "hours_per_week": None,
        }

    def external_row(self, src: Any, person: Person) -> Row:
        return {
            "event": self.names.of("Encounter", src.id),
            "patient": person.pseudonym,
            "source": "external",
            "kind": src.kind,
            "started_at": person.shift.moment(src.started_at),
            "item": None,
            "minutes": None,
            "ended_at": person.shift.moment(src.ended_at),
            "hours_per_week": rounded(src.hours_per_week),
        }
