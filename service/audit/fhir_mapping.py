"""An audit record as a FHIR R4 ``AuditEvent`` in the IHE Basic Audit Log Patterns.

BALP's shape for a RESTful interaction: ``type`` rest, ``subtype`` the interaction,
``action`` C/R/U/D/E; agents for the user (information recipient, the requestor),
the client (source) and this server (destination); the organisation the access went
through; entities for the patient, the resource, the query (base64, here with
identity numbers already redacted) and the X-Request-Id. Successful interactions
claim the matching BALP profile (PatientRead, PatientQuery, ...); refusals claim none.
"""

from __future__ import annotations

import base64
from typing import Any

_DCM = "http://dicom.nema.org/resources/ontology/DCM"
_PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
_ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
_OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
_BALP = "https://profiles.ihe.net/ITI/BALP"
_ROLE_SYSTEM = "https://fhir.dho.example/CodeSystem/role"
_PROFILE_NAMES = {"C": "Create", "R": "Read", "U": "Update", "D": "Delete", "E": "Query"}


def _coding(system: str, code: str, display: str) -> dict[str, str]:
    return {"system": system, "code": code, "display": display}


def audit_event_to_fhir(row: Any, server_url: str) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": row.id,
        "type": _coding(
            "http://terminology.hl7.org/CodeSystem/audit-event-type", "rest", "RESTful Operation"
        ),
        "subtype": [_coding("http://hl7.org/fhir/restful-interaction", row.subtype, row.subtype)],
        "action": row.action,
        "recorded": row.recorded_at.isoformat(),
        "outcome": _outcome_code(row.status),
        "outcomeDesc": f"{row.outcome} (HTTP {row.status})",
        "agent": _agents(row, server_url),
        "source": {
            "site": "dho",
            "observer": {"display": "DHO backend"},
            "type": [
                _coding(
                    "http://terminology.hl7.org/CodeSystem/security-source-type",
                    "4",
                    "Application Server",
                )
            ],
        },
        "entity": _entities(row),
    }
    profile = _profile(row)
    if profile is not None:
        resource["meta"] = {"profile": [profile]}
    return resource


def _outcome_code(status: int) -> str:
    """R4 AuditEventOutcome: 0 success, 4 minor failure (refused), 8 serious failure."""
    if status < 400:
        return "0"
    return "4" if status < 500 else "8"


def _profile(row: Any) -> str | None:
    name = _PROFILE_NAMES.get(row.action)
    if row.outcome != "success" or name is None or row.subtype == "export":
        return None
    prefix = "Patient" if row.patient_id else ""
    return f"{_BALP}/StructureDefinition/IHE.BasicAudit.{prefix}{name}"


def _agents(row: Any, server_url: str) -> list[dict[str, Any]]:
    user: dict[str, Any] = {
        "type": {"coding": [_coding(_PARTICIPATION, "IRCP", "information recipient")]},
        "requestor": True,
    }
    if row.actor is not None:
        identifier = {"value": row.actor}
        if row.actor_issuer:
            identifier["system"] = row.actor_issuer
        user["who"] = {"identifier": identifier}
        user["role"] = [{"coding": [_coding(_ROLE_SYSTEM, row.actor_role, row.actor_role)]}]
    else:
        user["who"] = {"display": "unauthenticated"}
    client: dict[str, Any] = {
        "type": {"coding": [_coding(_DCM, "110153", "Source Role ID")]},
        "who": {"display": row.client_id or "unknown client"},
        "requestor": False,
    }
    if row.client_address:
        client["network"] = {"address": row.client_address, "type": "2"}
    server = {
        "type": {"coding": [_coding(_DCM, "110152", "Destination Role ID")]},
        "who": {"display": "DHO backend"},
        "requestor": False,
        "network": {"address": server_url, "type": "5"},
    }
    agents = [user, client, server]
    if row.centre_id:
        agents.append(
            {
                "type": {"coding": [_coding(_PARTICIPATION, "PROV", "healthcare provider")]},
                "who": {"reference": f"Organization/{row.centre_id}"},
                "requestor": False,
            }
        )
    return agents


def _entities(row: Any) -> list[dict[str, Any]]:
    entities: list[dict[str, Any]] = []
    if row.patient_id:
        entities.append(
            {
                "what": {"reference": f"Patient/{row.patient_id}"},
                "type": _coding(_ENTITY_TYPE, "1", "Person"),
                "role": _coding(_OBJECT_ROLE, "1", "Patient"),
            }
        )
    if row.resource_id:
        entities.append(
            {
                "what": {"reference": f"{row.resource_type}/{row.resource_id}"},
                "type": _coding(_ENTITY_TYPE, "2", "System Object"),
                "role": _coding(_OBJECT_ROLE, "4", "Domain Resource"),
            }
        )
    if row.action == "E":
        # BALP keeps the request base64-encoded in .query; ours is the redacted one.
        search = f"{row.resource_type}?{row.query or ''}"
        entities.append(
            {
                "type": _coding(_ENTITY_TYPE, "2", "System Object"),
                "role": _coding(_OBJECT_ROLE, "24", "Query"),
                "description": search,
                "query": base64.b64encode(search.encode()).decode(),
            }
        )
    entities.append(
        {
            "what": {"identifier": {"value": row.request_id}},
            "type": _coding(
                f"{_BALP}/CodeSystem/BasicAuditEntityType",
                "XrequestId",
                "transport specific unique identifier where http X-Request-Id is used",
            ),
        }
    )
    return entities
