"""A stored reading as FHIR: the verbatim resource, with our id, meta and resolved
references. What the device sent is never rewritten in the database."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

FLAGS_SYSTEM = "https://fhir.dho.example/CodeSystem/dho-flags"


def observation_to_fhir(
    row: Mapping[Any, Any], received: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``received``: the resource as parsed on its way in, when this request stored it
    (it is the stored text, parsed: no need to parse it again)."""
    resource: dict[str, Any] = received if received is not None else orjson.loads(row["resource"])
    resource["id"] = row["id"]
    meta = dict(resource.get("meta") or {})
    meta["versionId"] = str(row["version_id"])
    meta["lastUpdated"] = row["received_at"].isoformat()
    if row["time_doubtful"]:
        tag = {"system": FLAGS_SYSTEM, "code": "time-doubtful", "display": row["time_note"]}
        meta["tag"] = [*meta.get("tag", []), tag]
    resource["meta"] = meta
    resource["subject"] = {"reference": f"Patient/{row['patient_id']}"}
    if row["device_id"] is not None:
        resource["device"] = {"reference": f"Device/{row['device_id']}"}
    return resource


def etag(row: Mapping[Any, Any]) -> str:
    return f'W/"{row["version_id"]}"'
