"""FastAPI dependencies that turn the Authorization header into a checked ``Principal``.

A route states who may call it in its signature, e.g. ``principal: ObservationCreator``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase

from service.auth.principal import Interaction, Principal
from service.auth.tokens import InvalidToken
from service.errors import Forbidden, Unauthorized
from service.state import app_state


class BearerToken(SecurityBase):
    """The caller's verified token as a ``Principal`` (401 without a valid one).

    A FastAPI security scheme rather than a plain function: every route that depends on
    it, directly or through ``require``, is declared in the OpenAPI contract as needing
    a bearer token, and ``service.openapi_contract`` then declares its 401 and 403
    answers. A route added tomorrow gets both without saying so.
    """

    def __init__(self) -> None:
        self.model = HTTPBearerModel(
            bearerFormat="JWT",
            description=(
                "A JWT from a trusted issuer (RS/PS/ES). Its role and SMART v2 scopes decide "
                "what it may do; its centres (staff) or subject (patient) what it may reach."
            ),
        )
        self.scheme_name = "bearer"

    async def __call__(self, request: Request) -> Principal:
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


current_principal = BearerToken()


class Requirement(BearerToken):
    """A token whose scopes allow ``interaction`` on ``resource_type`` (403 otherwise)."""

    def __init__(self, resource_type: str, interaction: Interaction) -> None:
        super().__init__()
        self.resource_type = resource_type
        self.interaction = interaction

    async def __call__(self, request: Request) -> Principal:
        # The token is read here, not in a sub-dependency: one dependency to solve per
        # request instead of two.
        principal = await super().__call__(request)
        if not principal.allows(self.resource_type, self.interaction):
            raise Forbidden(f"the token's scopes do not allow this on {self.resource_type}")
        return principal


def require(resource_type: str, interaction: Interaction) -> Requirement:
    return Requirement(resource_type, interaction)


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
# Forms (read by everyone who answers or reads answers) and answers to them.
QuestionnaireReader = Annotated[Principal, Depends(require("Questionnaire", "r"))]
QuestionnaireResponseCreator = Annotated[Principal, Depends(require("QuestionnaireResponse", "c"))]
QuestionnaireResponseReader = Annotated[Principal, Depends(require("QuestionnaireResponse", "r"))]
QuestionnaireResponseSearcher = Annotated[Principal, Depends(require("QuestionnaireResponse", "s"))]
# Messages between a patient and their centre: patients and nurses only.
CommunicationCreator = Annotated[Principal, Depends(require("Communication", "c"))]
CommunicationReader = Annotated[Principal, Depends(require("Communication", "r"))]
CommunicationSearcher = Annotated[Principal, Depends(require("Communication", "s"))]
CommunicationUpdater = Annotated[Principal, Depends(require("Communication", "u"))]
# A planned contact is a FHIR Appointment in all but shape: its scopes are Appointment's.
ContactPlanner = Annotated[Principal, Depends(require("Appointment", "c"))]
ContactReader = Annotated[Principal, Depends(require("Appointment", "s"))]
ContactCanceller = Annotated[Principal, Depends(require("Appointment", "u"))]
