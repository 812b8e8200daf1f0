"""Every table, imported once so that Alembic and the tests see the whole schema."""

from service.audit.models import AuditEvent
from service.careplans.models import CarePlanVersion
from service.centres.models import Centre
from service.contacts.models import PlannedContact
from service.cost_models.models import CostModel
from service.devices.models import Device
from service.ingest.models import (
    DeviceLastHeard,
    Observation,
    ObservationVersion,
    ReadingLastSeen,
)
from service.journal.models import JournalConfig, JournalMessage
from service.messages.models import MessageRow
from service.models_base import metadata
from service.patients.models import Patient, PatientIdentifier, PatientStatus
from service.questionnaires.models import QuestionnaireResponseRow
from service.queue.models import Finding, QueuePolicy, Snooze, TriageEvent, TriageItem
from service.research.models import (
    ExportJob,
    Study,
    StudyCentre,
    StudyPatientOffset,
    StudyResearcher,
)
from service.resource_use.models import ExternalEvent, PatientStatusChange, ResourceUseEvent
from service.worker.models import JobRun

__all__ = [
    "AuditEvent",
    "CarePlanVersion",
    "Centre",
    "CostModel",
    "Device",
    "DeviceLastHeard",
    "ExportJob",
    "ExternalEvent",
    "Finding",
    "JobRun",
    "JournalConfig",
    "JournalMessage",
    "MessageRow",
    "Observation",
    "ObservationVersion",
    "Patient",
    "PatientIdentifier",
    "PatientStatus",
    "PatientStatusChange",
    "PlannedContact",
    "QuestionnaireResponseRow",
    "QueuePolicy",
    "ReadingLastSeen",
    "ResourceUseEvent",
    "Snooze",
    "Study",
    "StudyCentre",
    "StudyPatientOffset",
    "StudyResearcher",
    "TriageEvent",
    "TriageItem",
    "metadata",
]
