"""From a validated FHIR Observation to the values we store, judge and search.

Pure functions: no database, no clock (``now`` is a parameter). Every refusal is a
``FhirError`` whose expression names the element, relative to the Observation, so a
Bundle can move it under its entry.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from service.fhirkit.catalogue import UCUM, Catalogue, Measurement, UnitNotAccepted
from service.fhirkit.outcome import FhirError
from service.fhirkit.times import InvalidTime, parse_effective

ACCEPTED_STATUSES = frozenset({"registered", "preliminary", "final", "amended", "corrected"})


@dataclass(frozen=True)
class Value:
    measurement: str
    code: str
    value: float
    unit: str
    original_value: float
    original_unit: str

    def as_component(self) -> dict[str, Any]:
        return {
            "measurement": self.measurement,
            "code": self.code,
            "value": self.value,
            "unit": self.unit,
            "original_value": self.original_value,
            "original_unit": self.original_unit,
        }


@dataclass(frozen=True)
class NormalisedReading:
    measurement: Measurement
    status: str
    values: tuple[Value, ...]
    effective_at: datetime
    effective_original: str
    time_doubtful: bool
    time_note: str | None
    subject_reference: str
    device_reference: str | None
    identifier: tuple[str, str] | None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def single(self) -> Value | None:
        return self.values[0] if not self.measurement.is_panel else None

    def dedup_key(self, device_id: str | None) -> str:
        """What makes two posts the same reading.

        The device's own identifier when it sent one; otherwise the same code, time,
        values and device. Two genuinely different readings at the same second from
        the same device with the same values cannot be told apart: we store one.
        """
        if self.identifier is not None:
            basis = "id|" + "|".join(self.identifier)
        else:
            values = ";".join(f"{v.code}={v.original_value}{v.original_unit}" for v in self.values)
            basis = (
                f"v|{self.measurement.code}|{self.effective_at.isoformat()}|{values}|"
                f"{device_id or ''}"
            )
        return hashlib.sha256(basis.encode()).hexdigest()


def normalise(
    resource: dict[str, Any],
    catalogue: Catalogue,
    *,
    now: datetime,
    future_skew: timedelta,
    local_zone: ZoneInfo,
) -> NormalisedReading:
    measurement = catalogue.find(resource.get("code", {}).get("coding"))
    if measurement is None:
        raise FhirError.one(
            422,
            "code-invalid",
            "this Observation.code is not a measurement this service accepts; "
            f"supported: {catalogue.supported_codes()}",
            "Observation.code",
        )
    status = resource.get("status", "")
    if status not in ACCEPTED_STATUSES:
        raise FhirError.one(
            422,
            "value",
            f"status '{status}' is not accepted for a new reading; "
            f"use one of {', '.join(sorted(ACCEPTED_STATUSES))}",
            "Observation.status",
        )
    subject = (resource.get("subject") or {}).get("reference")
    if not subject:
        raise FhirError.one(
            422, "required", "a reading must name its patient in subject", "Observation.subject"
        )
    effective = _effective(resource, now=now, future_skew=future_skew, local_zone=local_zone)
    values = (
        _panel_values(resource, measurement, catalogue)
        if measurement.is_panel
        else (_quantity(resource, measurement, "Observation"),)
    )
    device = (resource.get("device") or {}).get("reference")
    return NormalisedReading(
        measurement=measurement,
        status=status,
        values=values,
        effective_at=effective.at,
        effective_original=effective.original,
        time_doubtful=effective.doubtful,
        time_note=effective.note,
        subject_reference=subject,
        device_reference=device,
        identifier=_identifier(resource),
    )


def _effective(
    resource: dict[str, Any], *, now: datetime, future_skew: timedelta, local_zone: ZoneInfo
) -> Any:
    element, raw = "Observation.effectiveDateTime", resource.get("effectiveDateTime")
    if raw is None and "effectiveInstant" in resource:
        element, raw = "Observation.effectiveInstant", resource["effectiveInstant"]
    if raw is None and "effectivePeriod" in resource:
        element, raw = "Observation.effectivePeriod.start", resource["effectivePeriod"].get("start")
    if raw is None:
        raise FhirError.one(
            422,
            "required",
            "a reading must say when it was measured (effectiveDateTime)",
            "Observation.effective[x]",
        )
    try:
        effective = parse_effective(raw, local_zone)
    except InvalidTime as error:
        raise FhirError.one(422, "value", str(error), element) from None
    if effective.at > now + future_skew:
        raise FhirError.one(
            422,
            "value",
            f"the reading's time is more than {int(future_skew.total_seconds())} s in the future; "
            "check the device clock",
            element,
        )
    return effective


def _panel_values(
    resource: dict[str, Any], panel: Measurement, catalogue: Catalogue
) -> tuple[Value, ...]:
    values: list[Value] = []
    for index, component in enumerate(resource.get("component") or ()):
        part = catalogue.find(component.get("code", {}).get("coding"))
        if part is None or part.key not in panel.components:
            continue  # kept verbatim (mean arterial pressure, status), not normalised
        values.append(_quantity(component, part, f"Observation.component[{index}]"))
    if not values:
        raise FhirError.one(
            422,
            "required",
            f"a {panel.display_en.lower()} panel needs at least one of its components "
            f"({', '.join(panel.components)}) with a value",
            "Observation.component",
        )
    return tuple(values)


def _quantity(element: dict[str, Any], measurement: Measurement, path: str) -> Value:
    quantity = element.get("valueQuantity")
    if quantity is None:
        raise FhirError.one(
            422,
            "required",
            f"{measurement.display_en} needs a valueQuantity",
            f"{path}.valueQuantity",
        )
    raw_value = quantity.get("value")
    if raw_value is None:
        raise FhirError.one(
            422, "required", "the quantity has no value", f"{path}.valueQuantity.value"
        )
    # UCUM is read from the code, never from the free-text unit.
    ucum = quantity.get("code")
    system = quantity.get("system")
    if ucum is None or (system is not None and system != UCUM):
        raise FhirError.one(
            422,
            "required",
            f"the unit must be a UCUM code (system {UCUM}); "
            f"accepted for {measurement.display_en}: {', '.join(measurement.accepted_units)}",
            f"{path}.valueQuantity.code",
        )
    try:
        conversion = measurement.conversion(ucum)
    except UnitNotAccepted:
        raise FhirError.one(
            422,
            "value",
            f"unit '{ucum}' cannot be converted for {measurement.display_en}; "
            f"accepted: {', '.join(measurement.accepted_units)}",
            f"{path}.valueQuantity.code",
        ) from None
    original = float(raw_value)
    canonical = conversion.to_canonical(original)
    if not measurement.is_plausible(canonical) or (
        measurement.integer and not float(canonical).is_integer()
    ):
        raise FhirError.one(
            422,
            "value",
            f"{measurement.display_en} outside the physically plausible range "
            f"{measurement.plausible_low:g}-{measurement.plausible_high:g} {measurement.unit}",
            f"{path}.valueQuantity.value",
        )
    assert measurement.unit is not None
    return Value(
        measurement=measurement.key,
        code=measurement.code,
        value=round(canonical, 4),
        unit=measurement.unit,
        original_value=original,
        original_unit=ucum,
    )


def _identifier(resource: dict[str, Any]) -> tuple[str, str] | None:
    for identifier in resource.get("identifier") or ():
        value = identifier.get("value")
        if value:
            return identifier.get("system", ""), value
    return None
