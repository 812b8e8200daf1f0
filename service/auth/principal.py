"""The caller as the rest of the service sees it: a role, the centres it acts in, and
SMART on FHIR scopes. Repositories take a ``Principal`` and restrict their queries by
it; routers never repeat the check."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    patient = "patient"
    nurse = "nurse"
    researcher = "researcher"
    admin = "admin"
    system = "system"
    auditor = "auditor"


# Interactions in SMART v2 letters: create, read, update, delete, search.
Interaction = str

_V1_PERMISSIONS = {"read": "rs", "write": "cud", "*": "cruds"}

# Observation "u" is a retraction only (status entered-in-error): the patient, their
# gateway and the centre's nurses may withdraw a reading sent in error.
DEFAULT_SCOPES: dict[Role, tuple[str, ...]] = {
    Role.patient: (
        "patient/Observation.crus",
        "patient/Patient.rs",
        "patient/CarePlan.rs",
        # A gateway acting for the patient uploads its Devices (PHD IG).
        "patient/Device.crus",
        # Forms to answer, and the answers (a gateway's too).
        "patient/Questionnaire.rs",
        "patient/QuestionnaireResponse.crs",
        # Messages to and from their centre (read: marking the centre's replies read).
        "patient/Communication.crus",
        "patient/Appointment.rs",
    ),
    Role.nurse: (
        "user/Observation.rus",
        "user/CarePlan.rus",
        "user/Task.rus",
        "user/Patient.crus",
        "user/Organization.rs",
        # Nurses lend and take back the centre's kits.
        "user/Device.rus",
        # Resource use: a nurse's logged actions (Procedure) and, read only, the events
        # outside the service (Encounter). The evaluation (MeasureReport) is not a
        # default: an identity provider grants it to the centre's nurse leaders.
        "user/Procedure.crs",
        "user/Encounter.rs",
        "user/Questionnaire.rs",
        "user/QuestionnaireResponse.rs",
        "user/Communication.crus",
        # Planned contacts (the next call or visit).
        "user/Appointment.crus",
    ),
    Role.admin: (
        "user/Patient.crus",
        # Create: a new centre (a tenant); update: only their own (service.tenancy).
        "user/Organization.crus",
        "user/Device.cruds",
        "user/Encounter.crs",
        "user/MeasureReport.rs",
    ),
    Role.researcher: ("user/Group.rs",),
    Role.system: (
        "system/Observation.crus",
        "system/Device.crus",
        "system/Patient.rs",
        "system/Encounter.crs",
        "system/Questionnaire.rs",
        "system/QuestionnaireResponse.crs",
    ),
    Role.auditor: ("user/AuditEvent.rs",),
}


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    centres: tuple[str, ...] = ()
    scopes: frozenset[str] = field(default_factory=frozenset)
    issuer: str = ""
    client_id: str | None = None

    def allows(self, resource_type: str, interaction: Interaction) -> bool:
        """Whether one of the token's scopes grants ``interaction`` on ``resource_type``.

        SMART v2 (``patient/Observation.cr``) and the v1 forms (``.read``, ``.write``,
        ``.*``) are understood; the context prefix must fit the role, so a patient
        token carrying ``user/`` scopes gains nothing from them.
        """
        context = _CONTEXT_OF_ROLE[self.role]
        for scope in self.scopes:
            prefix, _, rest = scope.partition("/")
            resource, _, permissions = rest.partition(".")
            if prefix != context or resource not in (resource_type, "*"):
                continue
            letters = _V1_PERMISSIONS.get(permissions, permissions)
            if interaction in letters:
                return True
        return False


_CONTEXT_OF_ROLE = {
    Role.patient: "patient",
    Role.nurse: "user",
    Role.admin: "user",
    Role.researcher: "user",
    Role.auditor: "user",
    Role.system: "system",
}
