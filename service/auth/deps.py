"""FastAPI dependencies that turn the Authorization header into a checked ``Principal``.

A route states who may call it in its signature, e.g. ``principal: ObservationCreator``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from service.auth.principal import Interaction, Principal
from service.auth.tokens import InvalidToken
from service.errors import Forbidden, Unauthorized
from service.state import app_state


async def current_principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("a bearer token is required")
    try:
        principal = await app_state(request).verifier.verify(token.strip())
    except InvalidToken as error:
        raise Unauthorized(str(error)) from None
    request.state.principal = principal
    return principal


def require(resource_type: str, interaction: Interaction) -> Callable[..., Awaitable[Principal]]:
    async def dependency(request: Request) -> Principal:
        # current_principal called directly, not as a sub-dependency: one dependency
        # to solve per request instead of two.
        principal = await current_principal(request)
        if not principal.allows(resource_type, interaction):
            raise Forbidden(f"the token's scopes do not allow this on {resource_type}")
        return principal

    return dependency


ObservationCreator = Annotated[Principal, Depends(require("Observation", "c"))]
ObservationReader = Annotated[Principal, Depends(require("Observation", "r"))]
ObservationSearcher = Annotated[Principal, Depends(require("Observation", "s"))]
# Update is only ever a retraction (service/ingest/retraction.py).
ObservationUpdater = Annotated[Principal, Depends(require("Observation", "u"))]
PatientCreator = Annotated[Principal, Depends(require("Patient", "c"))]
PatientReader = Annotated[Principal, Depends(require("Patient", "r"))]
PatientSearcher = Annotated[Principal, Depends(require("Patient", "s"))]
OrganizationSearcher = Annotated[Principal, Depends(require("Organization", "s"))]
CarePlanReader = Annotated[Principal, Depends(require("CarePlan", "r"))]
CarePlanWriter = Annotated[Principal, Depends(require("CarePlan", "u"))]
# A queue item is a FHIR Task in all but shape: its scopes are Task's.
QueueReader = Annotated[Principal, Depends(require("Task", "r"))]
QueueWorker = Annotated[Principal, Depends(require("Task", "u"))]
OrganizationReader = Annotated[Principal, Depends(require("Organization", "r"))]
OrganizationManager = Annotated[Principal, Depends(require("Organization", "u"))]
OrganizationCreator = Annotated[Principal, Depends(require("Organization", "c"))]
# Resource use: a nurse's logged action is a FHIR Procedure in all but shape, an event
# outside the service an Encounter, and the evaluation's figures a MeasureReport.
ResourceUseLogger = Annotated[Principal, Depends(require("Procedure", "c"))]
ResourceUseReader = Annotated[Principal, Depends(require("Procedure", "s"))]
ExternalEventReporter = Annotated[Principal, Depends(require("Encounter", "c"))]
ExternalEventReader = Annotated[Principal, Depends(require("Encounter", "s"))]
EvaluationReader = Annotated[Principal, Depends(require("MeasureReport", "r"))]
# Devices: create and update are what a gateway uploading its Device needs; lending
# and return change who holds a device, so they take update too.
DeviceCreator = Annotated[Principal, Depends(require("Device", "c"))]
DeviceUpdater = Annotated[Principal, Depends(require("Device", "u"))]
DeviceReader = Annotated[Principal, Depends(require("Device", "r"))]
DeviceSearcher = Annotated[Principal, Depends(require("Device", "s"))]
