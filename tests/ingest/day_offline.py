"""What a PHD gateway sends after a day offline, built from the IG's own examples.

A pulse oximeter measuring every minute for 24 hours while the gateway had no network:
each minute the IG's Nonin shapes (bundle-continuousnonin.json) for SpO2, pulse rate,
the SpO2 signal quality and the device status; each hour the gateway's coincident
timestamp (coin-example-1.json) and a battery level that references it. Before them the
Patient and the two Devices (phg-example.json, phd-74E8FFFEFF051C00.001C05FFE874.json),
all by ``urn:uuid:`` fullUrls as a gateway sends them.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from service.patients.identity_number import FNR_SYSTEM

DATA = Path(__file__).resolve().parents[1] / "data" / "phd"
COINCIDENT = "http://hl7.org/fhir/uv/phd/StructureDefinition/CoincidentTimeStampReference"
GATEWAY = "http://hl7.org/fhir/StructureDefinition/observation-gatewayDevice"
PATIENT_URL = "urn:uuid:00000000-0000-4000-8000-00000000d001"
GATEWAY_URL = "urn:uuid:00000000-0000-4000-8000-00000000d002"
OXIMETER_URL = "urn:uuid:00000000-0000-4000-8000-00000000d003"
PER_MINUTE = ("MDC_PULS_OXIM_SAT_O2", "MDC_PULS_OXIM_PULS_RATE", "MDC_SAT_O2_QUAL")
STATUS = "MDC_PULS_OXIM_DEV_STATUS"
BATTERY = "MDC_ATTR_VAL_BATT_CHARGE"
ENTRIES_PER_DAY = 3 + 24 * 60 * (len(PER_MINUTE) + 1) + 24 * 2


def _load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((DATA / name).read_text())
    return document


def _shapes() -> dict[str, dict[str, Any]]:
    """One Observation of each kind from the IG's continuous oximetry Bundle."""
    shapes: dict[str, dict[str, Any]] = {}
    for entry in _load("bundle-continuousnonin.json")["entry"]:
        resource = entry["resource"]
        shapes.setdefault(resource["code"]["coding"][0]["display"], resource)
    return shapes


def _observation(shape: dict[str, Any], at: datetime, coin_url: str | None) -> dict[str, Any]:
    resource = copy.deepcopy(shape)
    resource["subject"] = {"reference": PATIENT_URL}
    resource["device"] = {"reference": OXIMETER_URL}
    resource["effectiveDateTime"] = at.isoformat()
    extensions = [{"url": GATEWAY, "valueReference": {"reference": GATEWAY_URL}}]
    if coin_url is not None:
        extensions.append({"url": COINCIDENT, "valueReference": {"reference": coin_url}})
    resource["extension"] = extensions
    return resource


def _entry(resource: dict[str, Any], full_url: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"]},
    }
    if full_url is not None:
        entry["fullUrl"] = full_url
    return entry


def day_offline_bundle(identity_number: str, end: datetime, *, minutes: int = 24 * 60) -> Any:
    """The transaction a gateway sends when it comes back online at ``end``."""
    shapes = _shapes()
    start = end - timedelta(minutes=minutes)
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": FNR_SYSTEM, "value": identity_number}],
    }
    gateway, oximeter = _load("phg-example.json"), _load("phd-74E8FFFEFF051C00.001C05FFE874.json")
    for device in (gateway, oximeter):
        del device["id"]
    entries = [
        {
            **_entry(patient, PATIENT_URL),
            "request": {
                "method": "POST",
                "url": "Patient",
                "ifNoneExist": f"identifier={FNR_SYSTEM}|{identity_number}",
            },
        },
        _entry(gateway, GATEWAY_URL),
        _entry(oximeter, OXIMETER_URL),
    ]
    coin_url = None
    for minute in range(minutes):
        at = (start + timedelta(minutes=minute)).astimezone(UTC).replace(microsecond=0)
        if minute % 60 == 0:
            coin_url = f"urn:uuid:00000000-0000-4000-8000-{minute:012d}"
            coin = _load("coin-example-1.json")
            del coin["id"]
            coin["subject"] = {"reference": OXIMETER_URL}
            coin["device"] = {"reference": GATEWAY_URL}
            coin["effectiveDateTime"] = at.isoformat()
            coin["valueDateTime"] = (at - timedelta(seconds=5)).isoformat()
            entries.append(_entry(coin, coin_url))
            entries.append(_entry(_observation(shapes[BATTERY], at, coin_url)))
        for name in PER_MINUTE:
            entries.append(_entry(_observation(shapes[name], at, coin_url)))
        # The device status of every minute: the IG's bits, one flag set.
        status = _observation(shapes[STATUS], at, coin_url)
        status["component"] = status["component"][:1]
        entries.append(_entry(status))
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}
