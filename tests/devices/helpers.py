"""Gateway Bundles for one kit: the Patient and the Device by conditional create, a
coincident timestamp of the device's clock and readings, as a PHD gateway sends them."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import uuid4

from tests.factories import gateway_entries, observation

MDC = "urn:iso:std:iso:11073:10101"


def coincident(device_url: str, gateway_time: datetime) -> dict[str, Any]:
    """The device's clock read at ``gateway_time``, and found right."""
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": MDC, "code": "67975", "display": "MDC_ATTR_TIME_ABS"}]},
        "subject": {"reference": device_url},
        "effectiveDateTime": gateway_time.isoformat(),
        "valueDateTime": gateway_time.isoformat(),
    }


def kit_bundle(
    identity_number: str,
    serial: str,
    gateway_time: datetime,
    readings: list[tuple[datetime, float]],
    *,
    with_coincident: bool = True,
) -> dict[str, Any]:
    patient_url, device_url = f"urn:uuid:{uuid4()}", f"urn:uuid:{uuid4()}"
    entries = gateway_entries(identity_number, serial, patient_url, device_url)
    if with_coincident:
        entries.append(
            {
                "fullUrl": f"urn:uuid:{uuid4()}",
                "resource": coincident(device_url, gateway_time),
                "request": {"method": "POST", "url": "Observation"},
            }
        )
    for when, value in readings:
        reading = {
            **observation("x", value=value, effective=when),
            "subject": {"reference": patient_url},
            "device": {"reference": device_url},
        }
        entries.append(
            {
                "fullUrl": f"urn:uuid:{uuid4()}",
                "resource": reading,
                "request": {"method": "POST", "url": "Observation"},
            }
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}
