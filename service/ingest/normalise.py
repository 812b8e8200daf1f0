"""From a validated FHIR Observation to the values we store, judge and search.

Pure functions: no database, no clock (``now`` is a parameter). Every refusal is a
``FhirError`` whose expression names the element, relative to the Observation, so a
Bundle can move it under its entry.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from service.fhirkit.catalogue import UCUM, Catalogue, Measurement, UnitNotAccepted
from service.fhirkit.outcome import FhirError
from service.fhirkit.times import (
    EffectiveTime,
    InvalidTime,
    as_the_device_said,
    parse_effective,
)

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
class DeviceClock:
    """What a coincident-timestamp observation says about the device's clock."""

    device_time: datetime | None  # None: the device reported a clock fault


@dataclass(frozen=True)
class NormalisedReading:
    """A measurement (normalised, stored, triaged) or a device/context observation
    (stored as received, never triaged): the first two of ingest's three classes."""

    kind: str  # "measurement" | "context"
    key: str  # the measurement's or the context's catalogue key
    code: str
    measurement: Measurement | None
    status: str
    values: tuple[Value, ...]
    effective_at: datetime
    effective_original: str
    time_doubtful: bool
    time_note: str | None
    subject_reference: str
    device_reference: str | None
    identifier: tuple[str, str] | None
    effective_element: str = "Observation.effectiveDateTime"
    clock: DeviceClock | None = None
    fingerprint: str = ""

    @property
    def single(self) -> Value | None:
        panel = self.measurement is None or self.measurement.is_panel
        return self.values[0] if self.values and not panel else None

    def dedup_key(self, device_id: str | None) -> str:
        """What makes two posts the same reading (of one patient: the key is unique per
        patient).

        The device's own identifier when it sent one; otherwise what the device said:
        code, its own uncorrected time, values as sent, and device. Never our corrected
        time: a reading re-sent after a newer coincident timestamp is corrected by
        another offset, and would otherwise be stored (and judged) twice. Two genuinely
        different readings at the same second from the same device with the same values
        cannot be told apart: we store one. Migration 0014 holds a frozen copy of this
        rule for the rows stored before it.
        """
        if self.identifier is not None:
            basis = "id|" + "|".join(self.identifier)
        else:
            values = ";".join(f"{v.code}={v.original_value}{v.original_unit}" for v in self.values)
            basis = (
                f"d|{self.code}|{as_the_device_said(self.effective_original)}|{values}|"
                f"{self.fingerprint}|{device_id or ''}"
            )
        return hashlib.sha256(basis.encode()).hexdigest()


def normalise(
    resource: dict[str, Any], catalogue: Catalogue, *, local_zone: ZoneInfo
) -> NormalisedReading:
    """Classify and normalise; the caller checks the time against the clock, after any
    device clock correction (``check_not_in_future``)."""
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
    effective, element = _effective(resource, local_zone)
    common = {
        "effective_element": element,
        "status": status,
        "effective_at": effective.at,
        "effective_original": effective.original,
        "time_doubtful": effective.doubtful,
        "time_note": effective.note,
        "subject_reference": subject,
        "device_reference": (resource.get("device") or {}).get("reference"),
        "identifier": _identifier(resource),
    }
    codings = resource.get("code", {}).get("coding")
    measurement = catalogue.find(codings)
    if measurement is not None:
        if _absent(resource, measurement):
            # A measurement without a value (the device said "not a number"): kept, and
            # shown, but there is nothing to judge.
            return _context(resource, f"absent:{measurement.key}", measurement.code, common)
        values = (
            _panel_values(resource, measurement, catalogue)
            if measurement.is_panel
            else (_quantity(resource, measurement, "Observation"),)
        )
        return NormalisedReading(
            "measurement", measurement.key, measurement.code, measurement, values=values, **common
        )
    carried = _component_measurement(resource, catalogue)
    if carried is not None:
        index, part = carried
        value = _quantity(resource["component"][index], part, f"Observation.component[{index}]")
        return NormalisedReading(
            "measurement", part.key, part.code, part, values=(value,), **common
        )
    context = catalogue.find_context(codings)
    if context is not None:
        return _context(resource, context.key, context.code, common)
    profiles = set((resource.get("meta") or {}).get("profile") or ())
    if profiles & catalogue.context_profiles:
        first = (codings or [{}])[0]
        return _context(resource, "phd_other", str(first.get("code", ""))[:32], common)
    raise FhirError.one(
        422,
        "code-invalid",
        f"Observation.code {_describe(codings)} is not a measurement this service accepts "
        f"nor a device observation of the PHD IG; supported: {catalogue.supported_codes()}",
        "Observation.code",
    )


def _describe(codings: list[dict[str, Any]] | None) -> str:
    shown = [f"{c.get('system', '')}|{c.get('code', '')}"[:120] for c in (codings or [])[:3]]
    return "(" + ", ".join(shown) + ")" if shown else "(no coding)"


def _absent(resource: dict[str, Any], measurement: Measurement) -> bool:
    if "dataAbsentReason" in resource and "valueQuantity" not in resource:
        return not measurement.is_panel or not any(
            "valueQuantity" in c for c in resource.get("component") or ()
        )
    return False


def _component_measurement(
    resource: dict[str, Any], catalogue: Catalogue
) -> tuple[int, Measurement] | None:
    """A PHD compound observation under a private code whose one numeric component is a
    measurement we know (the IG's glucose example): that component is the reading."""
    found = [
        (index, part)
        for index, component in enumerate(resource.get("component") or ())
        if (part := catalogue.find(component.get("code", {}).get("coding"))) is not None
        and not part.is_panel
        and "valueQuantity" in component
    ]
    return found[0] if len(found) == 1 else None


def _context(
    resource: dict[str, Any], key: str, code: str, common: dict[str, Any]
) -> NormalisedReading:
    clock = None
    if key == "coincident_timestamp":
        clock = DeviceClock(device_time(resource))
    value_part = {
        k: v
        for k, v in resource.items()
        if k.startswith("value") or k in ("component", "dataAbsentReason")
    }
    fingerprint = hashlib.sha256(orjson.dumps(value_part, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return NormalisedReading(
        "context", key, code, None, values=(), clock=clock, fingerprint=fingerprint, **common
    )


def device_time(resource: dict[str, Any]) -> datetime | None:
    """The device's own clock in a coincident timestamp (``valueDateTime``); None for a
    clock fault."""
    raw = resource.get("valueDateTime")
    if not isinstance(raw, str):
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _effective(resource: dict[str, Any], local_zone: ZoneInfo) -> tuple[EffectiveTime, str]:
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
    return effective, element


def check_not_in_future(
    reading: NormalisedReading, *, now: datetime, future_skew: timedelta
) -> None:
    """Refuse readings from the future. Called after the device's clock offset is
    applied: a device whose clock runs two hours fast still measured just now."""
    if reading.effective_at > now + future_skew:
        raise FhirError.one(
            422,
            "value",
            f"the reading's time is more than {int(future_skew.total_seconds())} s in the future; "
            "check the device clock",
            reading.effective_element,
        )


def _panel_values(
    resource: dict[str, Any], panel: Measurement, catalogue: Catalogue
) -> tuple[Value, ...]:
    values: list[Value] = []
    for index, component in enumerate(resource.get("component") or ()):
        part = catalogue.find(component.get("code", {}).get("coding"))
        if part is None or part.key not in panel.components or "valueQuantity" not in component:
            continue  # kept verbatim (mean arterial pressure, alarm status), not normalised
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
    if isinstance(raw_value, bool) or not isinstance(raw_value, int | float):
        # FHIR JSON decimals are JSON numbers; "72" is a string that happens to parse.
        raise FhirError.one(
            422, "value", "the value must be a JSON number", f"{path}.valueQuantity.value"
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
