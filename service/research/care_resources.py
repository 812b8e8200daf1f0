"""The care work around the readings as FHIR, built from a study's released columns
alone: queue items as ``Task``, nurse actions as ``Procedure`` and events outside the
service as ``Encounter``, as the queue and the resource-use API have them. The rows are
made by ``records.Mapper``; a column the study did not release is absent here too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from service.research import dictionary as d
from service.research.fhir_parts import ACT_CODE, ext, present, quantity, split

if TYPE_CHECKING:
    from service.research.records import Person

Row = dict[str, Any]

_TASK_STATUS = {
    "open": "requested",
    "claimed": "in-progress",
    "snoozed": "on-hold",
    "resolved": "completed",
}
_ENCOUNTER_CLASS = {
    "gp_contact": "AMB",
    "emergency_primary_care": "EMER",
    "hospital_stay": "IMP",
    "municipal_acute_bed": "ACUTE",
    "short_term_stay": "NONAC",
    "home_care_hours": "HH",
}
_STAYS = ("hospital_stay", "municipal_acute_bed", "short_term_stay")


def task(row: Row, person: Person) -> dict[str, Any]:
    """A queue item as a ``Task``: what the queue is, in all but shape."""
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
        for a in split(row.get("actions"))
    ]
    if (minutes := quantity(row.get("minutes"), "min")) is not None:
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
        resource["businessStatus"] = {"coding": [{"system": d.OUTCOMES, "code": row["outcome"]}]}
    if outputs:
        resource["output"] = outputs
    extensions = [
        ext(flag.replace("_", "-"), valueBoolean=True)
        for flag in ("critical", "technical", "back_in_range")
        if row.get(flag)
    ]
    if row.get("escalation"):
        extensions.append(ext("escalation", valueCode=row["escalation"]))
    for name in ("minutes_to_claim", "minutes_to_resolve"):
        if (duration := quantity(row.get(name), "min")) is not None:
            extensions.append(ext(name.replace("_", "-"), valueQuantity=duration))
    if extensions:
        resource["extension"] = extensions
    return resource


def procedure(row: Row, person: Person) -> dict[str, Any]:
    """A nurse's logged action as a ``Procedure``, as the resource-use API has it."""
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
    extensions = present(
        [
            ext("minutes", valueDecimal=minutes) if minutes is not None else None,
            ext("queue-item", valueReference={"reference": f"Task/{item}"}) if item else None,
        ]
    )
    if extensions:
        resource["extension"] = extensions
    return resource


def encounter(row: Row, person: Person) -> dict[str, Any]:
    """An event outside the service as an ``Encounter``."""
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
        resource["extension"] = [ext("hours-per-week", valueDecimal=row["hours_per_week"])]
    return resource
