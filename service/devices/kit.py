"""The kit lent at enrolment: the staff's ``POST /fhir/Patient`` may name the devices
handed over at the start-up visit, each as an extension

    {"url": "https://fhir.dho.example/StructureDefinition/lent-device",
     "valueIdentifier": {"system": "...", "value": "<serial>"}}

Each is lent to the new patient from their enrolment (a kit never seen is registered
in the patient's centre), in the enrolment's own transaction: a device still lent to
someone else refuses the whole enrolment (409), naming the extension.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal
from service.devices import repository
from service.devices import service as devices
from service.devices.schemas import DeviceIdentifier, LoanRead
from service.errors import ApiError
from service.fhirkit.outcome import FhirError

LENT_DEVICE = "https://fhir.dho.example/StructureDefinition/lent-device"


def kit_of(resource: dict[str, Any]) -> list[tuple[int, DeviceIdentifier]]:
    """(index in ``Patient.extension``, identifier) of each lent-device extension."""
    kit = []
    for index, extension in enumerate(resource.get("extension") or ()):
        if not isinstance(extension, dict) or extension.get("url") != LENT_DEVICE:
            continue
        identifier = extension.get("valueIdentifier")
        try:
            kit.append((index, DeviceIdentifier.model_validate(identifier)))
        except ValidationError:
            raise FhirError.one(
                422,
                "required",
                "a lent device names its identifier's system and value (at most 200 "
                "characters each)",
                f"Patient.extension[{index}].valueIdentifier",
            ) from None
    return kit


async def lend_at_enrolment(
    conn: AsyncConnection,
    principal: Principal,
    patient_id: str,
    centre_id: str,
    kit: list[tuple[int, DeviceIdentifier]],
    now: datetime,
) -> list[LoanRead]:
    enrolled_at = await repository.patient_enrolled_at(conn, patient_id) or now
    lent = []
    for index, identifier in kit:
        try:
            lent.extend(
                await devices.lend_kit(
                    conn, principal, patient_id, centre_id, [identifier], enrolled_at, now
                )
            )
        except ApiError as error:
            raise FhirError.one(
                error.status_code,
                error.fhir_code,
                error.detail,
                f"Patient.extension[{index}].valueIdentifier",
            ) from None
    return lent
