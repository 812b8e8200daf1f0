"""One source row to its de-identified FHIR resource and its table row.

Only what is named here leaves: a resource is built field by field from codes, numbers,
pseudonyms and shifted times, never copied from the stored JSON (which carries device
identifiers, gateway extensions and the original times). Nurses' notes and reasons,
who claimed or resolved an item, who logged an event, device ids, identifiers and the
rules' generated texts are not read at all.

FHIR shapes: the patient as a pseudonymous ``Patient``; readings as ``Observation``;
triage findings as ``DetectedIssue`` (a rule detected something about readings);
queue items as ``Task`` (what the queue is, in all but shape); nurse actions as
``Procedure`` and events outside the service as ``Encounter``, as the resource-use
API has them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from service.fhirkit.catalogue import LOINC, UCUM, Catalogue
from service.research import dictionary as d
from service.research.dates import TimeShift, days_since
from service.research.pseudonyms import Pseudonyms

EXT = "https://fhir.dho.example/StructureDefinition/research-"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"

Record = tuple[dict[str, Any], dict[str, Any]]

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


@dataclass(frozen=True)
class Person:
    """A released patient as the writers see them: the internal id stays in memory."""

    id: str
    pseudonym: str
    shift: TimeShift
    enrolled_at: datetime

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
    quantity: dict[str, Any] = {"value": rounded(value)}
    if unit:
        quantity |= {"unit": unit, "system": UCUM, "code": unit}
    return quantity


def patient(
    person: Person, values: dict[str, str | None], status: str, released: frozenset[str]
) -> Record:
    row: dict[str, Any] = {
        "patient": person.pseudonym,
        **{name: values.get(name) for name in ("age_band", "sex", "region", "protocol")},
        "enrolment_period": values.get("enrolment_period"),
        "enrolled_at": person.shift.moment(person.enrolled_at),
        "status": status,
    }
    row = {c.name: row[c.name] for c in d.columns("patients", released)}
    extensions = [
        _ext("age-band", valueString=row["age_band"]) if row.get("age_band") else None,
        _ext("region", valueString=row["region"]) if row.get("region") else None,
        _ext("protocol", valueCode=row["protocol"]) if row.get("protocol") else None,
        _ext("enrolment-period", valueString=row["enrolment_period"])
        if row.get("enrolment_period")
        else None,
        _ext("enrolled-at", valueDateTime=person.shift.fhir(person.enrolled_at))
        if "enrolled_at" in row
        else None,
        _ext("status", valueCode=status) if "status" in row else None,
    ]
    resource: dict[str, Any] = {"resourceType": "Patient", "id": person.pseudonym}
    if row.get("sex"):
        resource["gender"] = row["sex"]
    if present := _present(extensions):
        resource["extension"] = present
    return resource, row


def reading(row: Any, person: Person, names: Pseudonyms, catalogue: Catalogue) -> Record:
    measurement = catalogue.by_key.get(row.measurement)
    system = LOINC
    if measurement is not None and measurement.loinc is None:
        system = catalogue.score_system if measurement.category == "survey" else system
    components = {c.get("measurement"): c for c in row.components or ()}
    pseudonym = names.of("Observation", row.id)
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": pseudonym,
        "status": row.status,
        "code": {"coding": [{"system": system, "code": row.code}]},
        "subject": person.reference,
        "effectiveDateTime": person.shift.fhir(row.effective_at),
    }
    if measurement is not None:
        category = {"coding": [{"system": CATEGORY, "code": measurement.category}]}
        resource["category"] = [category]
    if (quantity := _quantity(row.value, row.unit)) is not None:
        resource["valueQuantity"] = quantity
    parts = [
        {
            "code": {"coding": [{"system": LOINC, "code": c.get("code")}]},
            "valueQuantity": _quantity(c.get("value"), c.get("unit")),
        }
        for c in components.values()
        if c.get("code") and c.get("value") is not None
    ]
    if parts:
        resource["component"] = parts
    table = {
        "reading": pseudonym,
        "patient": person.pseudonym,
        "measurement": row.measurement,
        "code": row.code,
        "value": rounded(row.value),
        "unit": row.unit,
        "systolic": rounded((components.get("systolic") or {}).get("value")),
        "diastolic": rounded((components.get("diastolic") or {}).get("value")),
        "effective_at": person.shift.moment(row.effective_at),
        "day": days_since(person.enrolled_at, row.effective_at),
        "time_doubtful": bool(row.time_doubtful),
    }
    return resource, table


def finding(row: Any, person: Person, names: Pseudonyms) -> Record:
    pseudonym = names.of("DetectedIssue", row.id)
    item = names.of("Task", row.item_id) if row.item_id else None
    anchor = names.of("Observation", row.observation_id) if row.observation_id else None
    extensions = [
        _ext("triage-colour", valueCoding={"system": d.COLOURS, "code": row.severity}),
        _ext("measurement", valueCode=row.measurement) if row.measurement else None,
        _ext("direction", valueCode=row.direction) if row.direction else None,
        _ext("value", valueDecimal=rounded(row.value)) if row.value is not None else None,
        _ext("threshold", valueDecimal=rounded(row.threshold))
        if row.threshold is not None
        else None,
        _ext("queue-item", valueReference={"reference": f"Task/{item}"}) if item else None,
        *(
            _ext(flag, valueBoolean=True)
            for flag in ("late", "technical", "critical", "snoozed")
            if getattr(row, flag)
        ),
    ]
    resource = {
        "resourceType": "DetectedIssue",
        "id": pseudonym,
        "status": "final",
        "code": {"coding": [{"system": d.RULES, "code": row.rule}]},
        "severity": _ISSUE_SEVERITY.get(row.severity, "low"),
        "patient": person.reference,
        "identifiedDateTime": person.shift.fhir(row.effective_at),
        "implicated": [
            {"reference": f"Observation/{names.of('Observation', r)}"}
            for r in row.reading_ids or ()
        ],
        "extension": _present(extensions),
    }
    if not resource["implicated"]:
        del resource["implicated"]
    table = {
        "finding": pseudonym,
        "patient": person.pseudonym,
        "item": item,
        "reading": anchor,
        "rule": row.rule,
        "severity": row.severity,
        "measurement": row.measurement,
        "direction": row.direction,
        "value": rounded(row.value),
        "threshold": rounded(row.threshold),
        "late": bool(row.late),
        "technical": bool(row.technical),
        "critical": bool(row.critical),
        "snoozed": bool(row.snoozed),
        "effective_at": person.shift.moment(row.effective_at),
    }
    return resource, table


def item(row: Any, person: Person, names: Pseudonyms) -> Record:
    pseudonym = names.of("Task", row.id)
    actions = [str(a) for a in row.actions or ()]
    shift = person.shift
    period = {
        k: v
        for k, v in (("start", shift.fhir(row.claimed_at)), ("end", shift.fhir(row.resolved_at)))
        if v is not None
    }
    outputs: list[dict[str, Any]] = [
        {"type": {"coding": [{"system": d.ACTIONS, "code": "action"}]}, "valueCode": a}
        for a in actions
    ]
    if row.minutes is not None:
        minutes = _quantity(row.minutes, "min")
        outputs.append(
            {
                "type": {"coding": [{"system": d.ACTIONS, "code": "minutes"}]},
                "valueQuantity": minutes,
            }
        )
    resource: dict[str, Any] = {
        "resourceType": "Task",
        "id": pseudonym,
        "status": _TASK_STATUS.get(row.state, "requested"),
        "intent": "order",
        "priority": "stat" if row.severity == "red" else "urgent",
        "code": {"coding": [{"system": d.COLOURS, "code": row.severity}]},
        "for": person.reference,
        "authoredOn": shift.fhir(row.opened_at),
    }
    if period:
        resource["executionPeriod"] = period
    if row.outcome:
        resource["businessStatus"] = {"coding": [{"system": d.OUTCOMES, "code": row.outcome}]}
    if outputs:
        resource["output"] = outputs
    extensions = [
        _ext(flag.replace("_", "-"), valueBoolean=True)
        for flag in ("critical", "technical", "back_in_range")
        if getattr(row, flag)
    ]
    if row.escalation:
        extensions.append(_ext("escalation", valueCode=row.escalation))
    if extensions:
        resource["extension"] = extensions
    table = {
        "item": pseudonym,
        "patient": person.pseudonym,
        "severity": row.severity,
        "state": row.state,
        "critical": bool(row.critical),
        "technical": bool(row.technical),
        "back_in_range": bool(row.back_in_range),
        "opened_at": shift.moment(row.opened_at),
        "claimed_at": shift.moment(row.claimed_at),
        "resolved_at": shift.moment(row.resolved_at),
        "outcome": row.outcome,
        "actions": ";".join(actions) or None,
        "minutes": rounded(row.minutes),
        "escalation": row.escalation,
    }
    return resource, table


def nurse_action(row: Any, person: Person, names: Pseudonyms) -> Record:
    pseudonym = names.of("Procedure", row.id)
    item = names.of("Task", row.item_id) if row.item_id else None
    ended = row.occurred_at + timedelta(minutes=float(row.minutes or 0))
    resource: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": pseudonym,
        "status": "completed",
        "code": {"coding": [{"system": d.RESOURCE_USE, "code": row.action}]},
        "subject": person.reference,
        "performedPeriod": {
            "start": person.shift.fhir(row.occurred_at),
            "end": person.shift.fhir(ended),
        },
        "extension": _present(
            [
                _ext("minutes", valueDecimal=rounded(row.minutes)),
                _ext("queue-item", valueReference={"reference": f"Task/{item}"}) if item else None,
            ]
        ),
    }
    table = {
        "event": pseudonym,
        "patient": person.pseudonym,
        "source": "nurse_action",
        "kind": row.action,
        "item": item,
        "minutes": rounded(row.minutes),
        "started_at": person.shift.moment(row.occurred_at),
        "ended_at": None,
        "hours_per_week": None,
    }
    return resource, table


def external_event(row: Any, person: Person, names: Pseudonyms) -> Record:
    pseudonym = names.of("Encounter", row.id)
    period = {"start": person.shift.fhir(row.started_at)}
    if row.ended_at is not None:
        period["end"] = person.shift.fhir(row.ended_at)
    ongoing = row.kind in ("hospital_stay", "municipal_acute_bed", "short_term_stay")
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": pseudonym,
        "status": "in-progress" if ongoing and row.ended_at is None else "finished",
        "class": {"system": ACT_CODE, "code": _ENCOUNTER_CLASS.get(row.kind, "AMB")},
        "type": [{"coding": [{"system": d.RESOURCE_USE, "code": row.kind}]}],
        "subject": person.reference,
        "period": period,
    }
    if row.hours_per_week is not None:
        resource["extension"] = [_ext("hours-per-week", valueDecimal=rounded(row.hours_per_week))]
    table = {
        "event": pseudonym,
        "patient": person.pseudonym,
        "source": "external",
        "kind": row.kind,
        "item": None,
        "minutes": None,
        "started_at": person.shift.moment(row.started_at),
        "ended_at": person.shift.moment(row.ended_at),
        "hours_per_week": rounded(row.hours_per_week),
    }
    return resource, table
