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

from service.fhirkit.catalogue import LOINC, UCUM, Catalogue
from service.research import dictionary as d
from service.research import kinds
from service.research.dates import TimeShift, days_since
from service.research.limits import ValueLimits
from service.research.pseudonyms import Pseudonyms

EXT = "https://fhir.dho.example/StructureDefinition/research-"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"

Record = tuple[dict[str, Any], dict[str, Any]]
Row = dict[str, Any]

_TASK_STATUS = {
    "open": "requested",
    "claimed": "in-progress",
    "snoozed": "on-hold",
    "resolved": "completed",
}
_ISSUE_SEVERITY = {"red": "high", "yellow": "moderate"}
_ENCOUNTER_CLASS = {
    "gp_contact": "AMB",
    "emergency_primary_care": "EMER",
    "hospital_stay": "IMP",
    "municipal_acute_bed": "ACUTE",
    "short_term_stay": "NONAC",
    "home_care_hours": "HH",
}
_STAYS = ("hospital_stay", "municipal_acute_bed", "short_term_stay")
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


def _ext(name: str, **value: Any) -> dict[str, Any]:
    return {"url": EXT + name, **value}


def _present(items: list[dict[str, Any] | None]) -> list[dict[str, Any]]:
    return [i for i in items if i is not None]


def _quantity(value: float | None, unit: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    quantity: dict[str, Any] = {"value": value}
    if unit:
        quantity |= {"unit": unit, "system": UCUM, "code": unit}
    return quantity


def minutes_between(start: datetime | None, end: datetime | None) -> float | None:
    """Exact minutes from ``start`` to ``end`` (true times: a duration read off times
    truncated to the hour could be wrong by up to an hour)."""
    if start is None or end is None:
        return None
    return rounded((end - start).total_seconds() / 60)


def _split(value: str | None) -> list[str]:
    return value.split(";") if value else []


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
        _ext("age-band", valueString=row["age_band"]) if row.get("age_band") else None,
        _ext("region", valueString=row["region"]) if row.get("region") else None,
        _ext("protocol", valueCode=row["protocol"]) if row.get("protocol") else None,
        _ext("enrolment-period", valueString=row["enrolment_period"])
        if row.get("enrolment_period")
        else None,
        _ext("enrolled-at", valueDateTime=person.shift.text(row["enrolled_at"]))
        if row.get("enrolled_at") is not None
        else None,
        _ext("status", valueCode=row["status"]) if row.get("status") else None,
    ]
    resource: dict[str, Any] = {"resourceType": "Patient", "id": person.pseudonym}
    if row.get("sex"):
        resource["gender"] = row["sex"]
    if present := _present(extensions):
        resource["extension"] = present
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
            "items": (self.item_row, self.item_resource),
            "nurse_actions": (self.nurse_action_row, self.nurse_action_resource),
            "external": (self.external_row, self.external_resource),
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
        if (quantity := _quantity(row.get("value"), row.get("unit"))) is not None:
            resource["valueQuantity"] = quantity
        parts = []
        for part in _PANEL_PARTS:
            value = row.get(part)
            definition = self.catalogue.by_key.get(part)
            if value is not None and definition is not None:
                parts.append(
                    {
                        "code": {"coding": [{"system": LOINC, "code": definition.loinc}]},
                        "valueQuantity": _quantity(value, definition.unit),
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
            return None if value is None else _ext(name, valueDecimal=value)

        item = row.get("item")
        extensions = [
            _ext("triage-colour", valueCoding={"system": d.COLOURS, "code": row["severity"]}),
            _ext("measurement", valueCode=row["measurement"]) if row.get("measurement") else None,
            _ext("direction", valueCode=row["direction"]) if row.get("direction") else None,
            number("value"),
            number("threshold"),
            _ext("queue-item", valueReference={"reference": f"Task/{item}"}) if item else None,
            *(
                _ext(flag, valueBoolean=True)
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
            "extension": _present(extensions),
        }
        if implicated := _split(row.get("evidence")):
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

    def item_resource(self, row: Row, person: Person) -> dict[str, Any]:
        text = person.shift.text
        period = {
            k: v
            for k, v in (
                ("start", text(row.get("claimed_at"))),
                ("end", text(row.get("resolved_at"))),
            )
            if v is not None
        }
        outputs: list[dict[str, Any]] = [
            {"type": {"coding": [{"system": d.ACTIONS, "code": "action"}]}, "valueCode": a}
            for a in _split(row.get("actions"))
        ]
        if (minutes := _quantity(row.get("minutes"), "min")) is not None:
            outputs.append(
                {
                    "type": {"coding": [{"system": d.ACTIONS, "code": "minutes"}]},
                    "valueQuantity": minutes,
                }
            )
        resource: dict[str, Any] = {
            "resourceType": "Task",
            "id": row["item"],
            "status": _TASK_STATUS.get(row["state"], "requested"),
            "intent": "order",
            "priority": "stat" if row["severity"] == "red" else "urgent",
            "code": {"coding": [{"system": d.COLOURS, "code": row["severity"]}]},
            "for": person.reference,
            "authoredOn": text(row["opened_at"]),
        }
        if period:
            resource["executionPeriod"] = period
        if row.get("outcome"):
            resource["businessStatus"] = {
                "coding": [{"system": d.OUTCOMES, "code": row["outcome"]}]
            }
        if outputs:
            resource["output"] = outputs
        extensions = [
            _ext(flag.replace("_", "-"), valueBoolean=True)
            for flag in ("critical", "technical", "back_in_range")
            if row.get(flag)
        ]
        if row.get("escalation"):
            extensions.append(_ext("escalation", valueCode=row["escalation"]))
        for name in ("minutes_to_claim", "minutes_to_resolve"):
            if (duration := _quantity(row.get(name), "min")) is not None:
                extensions.append(_ext(name.replace("_", "-"), valueQuantity=duration))
        if extensions:
            resource["extension"] = extensions
        return resource

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

    def nurse_action_resource(self, row: Row, person: Person) -> dict[str, Any]:
        text = person.shift.text
        period = {"start": text(row["started_at"])}
        if (ended := text(row.get("ended_at"))) is not None:
            period["end"] = ended
        minutes, item = row.get("minutes"), row.get("item")
        resource: dict[str, Any] = {
            "resourceType": "Procedure",
            "id": row["event"],
            "status": "completed",
            "code": {"coding": [{"system": d.RESOURCE_USE, "code": row["kind"]}]},
            "subject": person.reference,
            "performedPeriod": period,
        }
        extensions = _present(
            [
                _ext("minutes", valueDecimal=minutes) if minutes is not None else None,
                _ext("queue-item", valueReference={"reference": f"Task/{item}"}) if item else None,
            ]
        )
        if extensions:
            resource["extension"] = extensions
        return resource

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

    def external_resource(self, row: Row, person: Person) -> dict[str, Any]:
        text = person.shift.text
        period = {"start": text(row["started_at"])}
        if row.get("ended_at") is not None:
            period["end"] = text(row["ended_at"])
        kind = row["kind"]
        if "ended_at" not in row:  # the study did not release when stays ended
            status = "unknown"
        else:
            status = "in-progress" if kind in _STAYS and row["ended_at"] is None else "finished"
        resource: dict[str, Any] = {
            "resourceType": "Encounter",
            "id": row["event"],
            "status": status,
            "class": {"system": ACT_CODE, "code": _ENCOUNTER_CLASS.get(kind, "AMB")},
            "type": [{"coding": [{"system": d.RESOURCE_USE, "code": kind}]}],
            "subject": person.reference,
            "period": period,
        }
        if row.get("hours_per_week") is not None:
            resource["extension"] = [_ext("hours-per-week", valueDecimal=row["hours_per_week"])]
        return resource
