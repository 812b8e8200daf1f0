"""Every table, imported once so that Alembic and the tests see the whole schema."""

from service.centres.models import Centre
from service.devices.models import Device
from service.ingest.models import Observation
from service.models_base import metadata
from service.patients.models import Patient, PatientIdentifier, PatientStatus

__all__ = [
    "Centre",
    "Device",
    "Observation",
    "Patient",
    "PatientIdentifier",
    "PatientStatus",
    "metadata",
]
