"""Refused and failed requests leave a trace too.

By the time an error handler runs, the request's own transaction has rolled back
(taking any record the route had written with it), so the record of a refusal is
written here on a short transaction of its own. ``service.errors`` calls
``record_refusal`` from every error handler; it answers only for routes that touch
patient data, and its own failure is logged there and never changes the answer.

What was attempted is read from the matched route, not from the handler (which may
never have run: a 401 is raised before it): the FHIR path and method give the
interaction, and a named Patient or Observation gives the patient and centre, so the
patient's centre can see who tried from outside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from service.audit import repository
from service.audit.redact import redact_query
from service.audit.service import CREATE, DELETE, EXECUTE, READ, UPDATE, record
from service.auth.principal import Principal, Role
from service.state import app_state

_PATIENT_DATA_PREFIXES = (
    "/fhir/Observation",
    "/fhir/Patient",
    "/fhir/AuditEvent",
    "/fhir/Device",
    "/api/",
)
_API_RESOURCES = {"/api/audit": "AuditEvent", "/api/me/access-log": "AuditEvent"}


@dataclass(frozen=True)
class Interaction:
    action: str
    subtype: str
    resource_type: str
    resource_id: str | None


def touches_patient_data(route_path: str) -> bool:
    return route_path == "/fhir" or route_path.startswith(_PATIENT_DATA_PREFIXES)


def interaction_of(method: str, route_path: str, path_params: Mapping[str, Any]) -> Interaction:
    """The FHIR interaction a route stands for: ``GET /fhir/Patient/{id}`` is a read of
    Patient ``id``; ``GET /fhir/Observation`` a search; ``/api/...`` by method alike."""
    values = [str(v) for v in path_params.values()]
    resource_id = values[-1] if values else None
    if route_path == "/fhir":
        return Interaction(CREATE, "transaction", "Bundle", None)
    if route_path.startswith("/fhir/"):
        resource_type = route_path.split("/")[2]
    else:
        resource_type = _API_RESOURCES.get(route_path, route_path)[:64]
    if method == "POST":
        return Interaction(CREATE, "create", resource_type, resource_id)
    if method in ("PUT", "PATCH"):
        return Interaction(UPDATE, "update", resource_type, resource_id)
    if method == "DELETE":
        return Interaction(DELETE, "delete", resource_type, resource_id)
    if "export" in route_path:
        return Interaction(EXECUTE, "export", resource_type, resource_id)
    if resource_id is not None:
        return Interaction(READ, "read", resource_type, resource_id)
    return Interaction(EXECUTE, "search-type", resource_type, None)


async def record_refusal(request: Request, status: int) -> None:
    """Record a refused or failed request on its own transaction (see the module).

    Not a 503: the database was away or the process's pool full, so nothing reached
    the patient's data, and a write to record it would fail or queue in its turn."""
    if status == 503:
        return
    route_path = getattr(request.scope.get("route"), "path", None)
    if not isinstance(route_path, str) or not touches_patient_data(route_path):
        return
    interaction = interaction_of(request.method, route_path, request.path_params)
    principal: Principal | None = getattr(request.state, "principal", None)
    async with app_state(request).engine.begin() as conn:
        owner = None
        if interaction.resource_id is not None:
            owner = await repository.owner_of(
                conn, interaction.resource_type, interaction.resource_id
            )
        if owner is None and principal is not None and principal.role is Role.patient:
            owner = await repository.owner_of(conn, "Patient", principal.subject)
        await record(
            conn,
            principal,
            action=interaction.action,
            subtype=interaction.subtype,
            resource_type=interaction.resource_type,
            resource_id=interaction.resource_id,
            patient_id=owner[0] if owner else None,
            centre_id=owner[1] if owner else None,
            query=redact_query(request.query_params.multi_items()),
            status=status,
        )
