"""What the device-loan endpoints take and answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

Text200 = Annotated[str, Field(min_length=1, max_length=200)]


class DeviceIdentifier(BaseModel):
    """A kit's identifier as printed on it or sent by its gateway (a serial, an IEEE
    11073 system id): ``system`` and ``value`` as in FHIR ``Device.identifier``."""

    model_config = ConfigDict(extra="forbid")

    system: Text200
    value: Text200


class LoanCreate(BaseModel):
    """Lend a device to a patient of its centre, named by our id or by its identifier
    (a kit not yet registered is registered in the patient's centre)."""

    model_config = ConfigDict(extra="forbid")

    patient_id: Annotated[str, Field(min_length=1, max_length=36)]
    device_id: Annotated[str, Field(min_length=1, max_length=36)] | None = None
    device_identifier: DeviceIdentifier | None = None
    # From when the patient holds it; by default now. Never in the future.
    lent_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _names_one_device(self) -> LoanCreate:
        if (self.device_id is None) == (self.device_identifier is None):
            raise ValueError("name the device by device_id or by device_identifier")
        return self


class LoanReturn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # When the kit came back; by default now. Never in the future, never before the
    # patient's last reading from it.
    returned_at: AwareDatetime | None = None


class LoanRead(BaseModel):
    id: str
    centre_id: str
    patient_id: str
    device_id: str
    lent_at: datetime
    returned_at: datetime | None
    lent_by: str
    returned_by: str | None
    # What is on the device's label: its kind (as the device described itself) and the
    # identifier it is registered by.
    device_kind: str | None = None
    device_label: str | None = None
