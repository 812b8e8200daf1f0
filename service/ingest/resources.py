"""A stored reading as FHIR: the verbatim resource, with our id, meta and resolved
references. What the device sent is never rewritten in the database."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from service.ingest.canonical import add_canonical_quantities
from service.ingest.triage_seam import Verdict

FLAGS_SYSTEM = "https://fhir.dho.example/CodeSystem/dho-flags"
TRIAGE_COLOUR_SYSTEM = "https://fhir.dho.example/CodeSystem/triage-colour"
TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
_COLOUR_DISPLAY = {
    "green": "Green: as usual",
    "yellow": "Yellow: beginning deterioration, contact today",
    "red": "Red: acute deterioration, contact now",
}
_NOT_JUDGED = {
    "paused": "Not triaged: follow-up is paused",
    "ended": "Not triaged: follow-up has ended",
    "no_care_plan": "Not triaged: the patient has no care plan yet",
    "history": "Not triaged: imported as earlier history",
    "not-triaged": "Not triaged",
}


def observation_to_fhir(
    row: Mapping[Any, Any],
    received: dict[str, Any] | None = None,
    verdict: Verdict | None = None,
) -> dict[str, Any]:
    """``received``: the resource as parsed on its way in, when this request stored it
    (it is the stored text, parsed: no need to parse it again). ``verdict``: triage's
    colour and advice, added as an interpretation (see fhir/README.md)."""
    resource: dict[str, Any] = received if received is not None else orjson.loads(row["resource"])
    resource["id"] = row["id"]
    meta = dict(resource.get("meta") or {})
    meta["versionId"] = str(row["version_id"])
    meta["lastUpdated"] = row["received_at"].isoformat()
    if row["time_doubtful"]:
        tag = {"system": FLAGS_SYSTEM, "code": "time-doubtful", "display": row["time_note"]}
        meta["tag"] = [*meta.get("tag", []), tag]
    resource["meta"] = meta
    resource["subject"] = {"reference": f"Patient/{row['patient_id']}"}
    if row["device_id"] is not None:
        resource["device"] = {"reference": f"Device/{row['device_id']}"}
    add_canonical_quantities(resource, row["components"])
    if verdict is not None:
        resource["interpretation"] = [
            *(resource.get("interpretation") or ()),
            triage_interpretation(verdict),
        ]
    return resource


def triage_interpretation(verdict: Verdict) -> dict[str, Any]:
    """The traffic light as a CodeableConcept; its text is the advice for the patient in
    Norwegian (bokmål), with the English as a standard FHIR translation. A reading nobody
    judged gets no colour at all: a flag that says why, and advice that says so."""
    if verdict.severity is None:
        reason = verdict.not_judged or "not-triaged"
        codings = [{"system": FLAGS_SYSTEM, "code": "not-triaged", "display": _NOT_JUDGED[reason]}]
    else:
        codings = [
            {
                "system": TRIAGE_COLOUR_SYSTEM,
                "code": verdict.severity,
                "display": _COLOUR_DISPLAY[verdict.severity],
            }
        ]
    if verdict.critical:
        codings.append({"system": TRIAGE_COLOUR_SYSTEM, "code": "critical", "display": "Call 113"})
    translation = {
        "url": TRANSLATION,
        "extension": [
            {"url": "lang", "valueCode": "en"},
            {"url": "content", "valueString": verdict.advice_en},
        ],
    }
    return {
        "coding": codings,
        "text": verdict.advice_nb,
        "_text": {"extension": [translation]},
    }


def etag(row: Mapping[Any, Any]) -> str:
    return f'W/"{row["version_id"]}"'
