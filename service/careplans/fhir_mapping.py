"""The care plan as FHIR: a ``CarePlan`` whose goals (contained ``Goal`` resources) give,
per measurement, the range that is "as usual" for this patient.

``Goal.target.detailRange`` is the green range (between the yellow limits); the red
limits, which FHIR's Goal has no element for, travel in an extension on the target.
fhir/README.md documents the shape.
"""

from __future__ import annotations

from typing import Any

from service.careplans.schemas import CarePlanRead
from service.fhirkit.catalogue import LOINC, UCUM, Catalogue

RED_LIMITS = "https://fhir.dho.example/StructureDefinition/red-limits"
PROTOCOL_SYSTEM = "https://fhir.dho.example/CodeSystem/follow-up-protocol"


def care_plan_to_fhir(plan: CarePlanRead, plan_id: str, catalogue: Catalogue) -> dict[str, Any]:
    goals = []
    for measurement, band in sorted(plan.effective_bands.items()):
        entry = catalogue.by_key.get(measurement)
        if entry is None:
            continue
        unit = {"unit": entry.unit, "system": UCUM, "code": entry.unit} if entry.unit else {}
        system, code = (LOINC, entry.loinc) if entry.loinc else entry.codings[0]
        target: dict[str, Any] = {
            "measure": {"coding": [{"system": system, "code": code}], "text": measurement},
            "detailRange": _range(band.yellow_low, band.yellow_high, unit),
        }
        red = _range(band.red_low, band.red_high, unit)
        if red:
            target["extension"] = [{"url": RED_LIMITS, "valueRange": red}]
        goals.append(
            {
                "resourceType": "Goal",
                "id": f"goal-{measurement.replace('_', '-')}",
                "lifecycleStatus": "active",
                "description": {"text": f"{measurement} as usual for this patient"},
                "subject": {"reference": f"Patient/{plan.patient_id}"},
                "target": [target],
            }
        )
    return {
        "resourceType": "CarePlan",
        "id": plan_id,
        "meta": {"versionId": str(plan.version), "lastUpdated": plan.changed_at.isoformat()},
        "status": "active",
        "intent": "plan",
        "category": [{"coding": [{"system": PROTOCOL_SYSTEM, "code": plan.protocol}]}],
        "title": "Egenbehandlingsplan",
        "subject": {"reference": f"Patient/{plan.patient_id}"},
        "contained": goals,
        "goal": [{"reference": f"#{g['id']}"} for g in goals],
    }


def _range(low: float | None, high: float | None, unit: dict[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if low is not None:
        found["low"] = {"value": low, **unit}
    if high is not None:
        found["high"] = {"value": high, **unit}
    return found
