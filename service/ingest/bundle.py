"""Bundles from gateways: ``transaction`` (all or nothing) and ``batch`` (entry by entry).

A PHD gateway sends the Patient and its Devices by conditional create
(``ifNoneExist`` on the identifier) and Observations that reference them by
``urn:uuid:`` fullUrls. A gateway never enrols anyone: the Patient entry must resolve
to a patient already enrolled and within the caller's reach. Devices are registered
on first sight, in the patient's centre.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal
from service.fhirkit.body import count_values
from service.fhirkit.outcome import FhirError
from service.ingest import bundle_entries, retraction
from service.ingest import service as ingest
from service.ingest.refs import References
from service.ingest.resources import etag
from service.models_base import new_id
from service.patients.identity_vault import IdentityVault
from service.settings import Settings

_STATUS_TEXT = {
    200: "200 OK",
    201: "201 Created",
    400: "400 Bad Request",
    403: "403 Forbidden",
    404: "404 Not Found",
    409: "409 Conflict",
    412: "412 Precondition Failed",
    413: "413 Payload Too Large",
    422: "422 Unprocessable Entity",
}
_ORDER = {"Patient": 0, "Device": 1, "Observation": 3}
MDC_TIME_ABS = "67975"  # the coincident timestamp: it sets the device's clock offset


async def process(
    conn: AsyncConnection,
    principal: Principal,
    bundle: dict[str, Any],
    ctx: ingest.IngestContext,
    vault: IdentityVault,
    *,
    max_entries: int,
    max_entry_bytes: int = Settings.model_fields["max_body_bytes"].default,
    max_entry_items: int = Settings.model_fields["max_json_items"].default,
    representation: bool = False,
) -> dict[str, Any]:
    """``max_entry_bytes`` and ``max_entry_items``: the limits of a body of one resource
    (Settings; the route passes the configured ones), which hold for each entry too,
    whatever room the Bundle leaves. ``representation`` (``Prefer:
    return=representation``): each stored Observation's entry carries the resource, with
    the verdict the patient's device may show."""
    entries = _entries(bundle, max_entries)
    _check_entry_sizes(entries, max_bytes=max_entry_bytes, max_items=max_entry_items)
    if bundle["type"] == "transaction":
        responses = await _transaction(conn, principal, entries, ctx, vault, representation)
        kind = "transaction-response"
    else:
        responses = await _batch(conn, principal, entries, ctx, vault, representation)
        kind = "batch-response"
    return {"resourceType": "Bundle", "type": kind, "entry": responses}


def _entries(bundle: dict[str, Any], max_entries: int) -> list[dict[str, Any]]:
    if bundle.get("resourceType") != "Bundle":
        raise FhirError.one(422, "invalid", "POST /fhir takes a Bundle", "Bundle.resourceType")
    if bundle.get("type") not in ("transaction", "batch"):
        raise FhirError.one(
            422, "value", "the Bundle type must be transaction or batch", "Bundle.type"
        )
    entries = bundle.get("entry") or []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise FhirError.one(422, "structure", "entry must be an array of objects", "Bundle.entry")
    if len(entries) > max_entries:
        raise FhirError.one(
            413, "too-costly", f"a Bundle may hold at most {max_entries} entries", "Bundle.entry"
        )
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        full_url = entry.get("fullUrl")
        if isinstance(full_url, str):
            if full_url in seen:  # bdl-7: references would be ambiguous
                raise FhirError.one(
                    422,
                    "invariant",
                    "two entries share one fullUrl",
                    f"Bundle.entry[{index}].fullUrl",
                )
            seen.add(full_url)
    return entries


def _check_entry_sizes(
    entries: Sequence[dict[str, Any]], *, max_bytes: int, max_items: int
) -> None:
    """An entry may be no larger than the same resource posted alone: the Bundle's
    larger limits are for many entries, not for one costly resource."""
    for index, entry in enumerate(entries):
        if count_values(entry) > max_items:
            raise FhirError.one(
                400,
                "too-costly",
                f"an entry may hold at most {max_items} JSON values",
                f"Bundle.entry[{index}]",
            )
        if len(orjson.dumps(entry)) > max_bytes:
            raise FhirError.one(
                413,
                "too-costly",
                f"an entry may be at most {max_bytes} bytes",
                f"Bundle.entry[{index}]",
            )


async def _transaction(
    conn: AsyncConnection,
    principal: Principal,
    entries: Sequence[dict[str, Any]],
    ctx: ingest.IngestContext,
    vault: IdentityVault,
    representation: bool,
) -> list[dict[str, Any]]:
    refs = _references(entries)
    responses: list[dict[str, Any]] = [{} for _ in entries]
    pending: list[tuple[int, ingest.PreparedReading]] = []
    for index in sorted(range(len(entries)), key=lambda i: _rank(entries[i])):
        outcome = await _entry_at(conn, principal, entries, index, ctx, vault, refs)
        if isinstance(outcome, ingest.PreparedReading):
            pending.append((index, outcome))
        else:
            responses[index] = outcome
    stored = await ingest.store(conn, [p for _, p in pending], ctx)
    for (index, _), result in zip(pending, stored, strict=True):
        responses[index] = _stored_response(result, representation)
    return responses


async def _batch(
    conn: AsyncConnection,
    principal: Principal,
    entries: Sequence[dict[str, Any]],
    ctx: ingest.IngestContext,
    vault: IdentityVault,
    representation: bool,
) -> list[dict[str, Any]]:
    refs = _references(entries)
    responses: list[dict[str, Any]] = [{} for _ in entries]
    for index in sorted(range(len(entries)), key=lambda i: _rank(entries[i])):
        try:
            async with conn.begin_nested():
                outcome = await _entry_at(conn, principal, entries, index, ctx, vault, refs)
                if isinstance(outcome, ingest.PreparedReading):
                    stored = (await ingest.store(conn, [outcome], ctx))[0]
                    outcome = _stored_response(stored, representation)
            responses[index] = outcome
        except FhirError as error:
            responses[index] = {
                "response": {
                    "status": _STATUS_TEXT.get(error.status_code, str(error.status_code)),
                    "outcome": error.outcome(),
                }
            }
    return responses


def _references(entries: Sequence[dict[str, Any]]) -> References:
    """Ids for the Observation entries up front, so entries can link to one another."""
    refs = References()
    for entry in entries:
        resource = entry.get("resource")
        full_url = entry.get("fullUrl")
        is_observation = (
            isinstance(resource, dict) and resource.get("resourceType") == "Observation"
        )
        if isinstance(full_url, str) and is_observation:
            refs.observations[full_url] = new_id()
    return refs


def _rank(entry: dict[str, Any]) -> int:
    """Patients, then devices, then the clocks of devices, then everything else: a
    reading's time is corrected by its device's offset from the same Bundle."""
    resource = entry.get("resource")
    if not isinstance(resource, dict):
        return 4
    kind = resource.get("resourceType")
    if kind == "Observation" and any(
        isinstance(c, dict) and c.get("code") == MDC_TIME_ABS
        for c in (resource.get("code") or {}).get("coding") or ()
    ):
        return 2
    return _ORDER.get(str(kind), 4)


async def _entry_at(
    conn: AsyncConnection,
    principal: Principal,
    entries: Sequence[dict[str, Any]],
    index: int,
    ctx: ingest.IngestContext,
    vault: IdentityVault,
    refs: References,
) -> dict[str, Any] | ingest.PreparedReading:
    """Entry ``index``; its errors name their element from the Bundle down."""
    _check_request(entries[index], index)
    try:
        return await _entry(conn, principal, entries[index], ctx, vault, refs)
    except FhirError as error:
        raise error.within(f"Bundle.entry[{index}].resource") from None


def _plain_id(value: str) -> bool:
    return bool(value) and "/" not in value and "?" not in value


def _check_request(entry: dict[str, Any], index: int) -> None:
    """What the entry asks for, which lives in ``Bundle.entry[n].request``, not in the
    resource: errors about it say so."""
    at = f"Bundle.entry[{index}]"
    resource, request = entry.get("resource"), entry.get("request")
    if not isinstance(resource, dict):
        raise FhirError.one(422, "required", "each entry needs a resource", f"{at}.resource")
    if not isinstance(request, dict):
        raise FhirError.one(422, "required", "each entry needs a request", f"{at}.request")
    if request.get("method") == "PUT" and resource.get("resourceType") == "Observation":
        observation_id = str(request.get("url", "")).removeprefix("Observation/")
        if not str(request.get("url", "")).startswith("Observation/") or not _plain_id(
            observation_id
        ):
            raise FhirError.one(
                422,
                "not-supported",
                "a PUT entry's url must be Observation/{id} (a retraction)",
                f"{at}.request.url",
            )
        return
    if request.get("method") == "PUT" and resource.get("resourceType") == "Device":
        # Update, update-as-create or conditional update: device_entry reads the url.
        return
    if request.get("method") != "POST":
        raise FhirError.one(
            422,
            "not-supported",
            "entries must be POST to the resource's type (e.g. url 'Observation'), PUT "
            "Device, or PUT Observation/{id} to retract a reading",
            f"{at}.request.method",
        )
    if str(request.get("url", "")).split("?")[0] != resource.get("resourceType"):
        raise FhirError.one(
            422,
            "not-supported",
            "entries must be POST to the resource's type (e.g. url 'Observation')",
            f"{at}.request.url",
        )


async def _entry(
    conn: AsyncConnection,
    principal: Principal,
    entry: dict[str, Any],
    ctx: ingest.IngestContext,
    vault: IdentityVault,
    refs: References,
) -> dict[str, Any] | ingest.PreparedReading:
    """An entry whose request ``_check_request`` accepted."""
    resource: dict[str, Any] = entry["resource"]
    request: dict[str, Any] = entry["request"]
    kind = resource.get("resourceType")
    if kind == "Observation" and request.get("method") == "PUT":
        return await _retract(conn, principal, resource, request, ctx)
    full_url = entry.get("fullUrl")
    if kind == "Device":
        return await bundle_entries.device_entry(
            conn, principal, resource, request, ctx, refs, full_url
        )
    if kind == "Observation":
        return await ingest.prepare(conn, principal, resource, ctx, refs, full_url=full_url)
    if kind == "Patient":
        patient = await bundle_entries.resolve_patient(conn, principal, resource, request, vault)
        if full_url:
            refs.patients[full_url] = patient
        return {"response": {"status": "200 OK", "location": f"Patient/{patient.id}"}}
    raise FhirError.one(
        422,
        "not-supported",
        "a gateway Bundle holds Patient, Device and Observation entries",
        "Entry.resourceType",
    )


def _stored_response(result: ingest.Stored, representation: bool) -> dict[str, Any]:
    row = result.row
    entry: dict[str, Any] = {
        "response": {
            "status": "201 Created" if result.created else "200 OK",
            "location": f"Observation/{row['id']}/_history/{row['version_id']}",
            "etag": etag(row),
            "lastModified": row["received_at"].isoformat(),
        }
    }
    if representation:
        entry["resource"] = retraction.render(row, verdict=result.verdict)
    return entry


async def _retract(
    conn: AsyncConnection,
    principal: Principal,
    resource: dict[str, Any],
    request: dict[str, Any],
    ctx: ingest.IngestContext,
) -> dict[str, Any]:
    """``PUT Observation/{id}``: a retraction, as ``PUT /fhir/Observation/{id}`` alone
    (service/ingest/retraction.py), audited as the update it is."""
    observation_id = str(request["url"]).removeprefix("Observation/")  # _check_request
    if_match = request.get("ifMatch")
    result = await retraction.retract(
        conn,
        principal,
        observation_id,
        resource,
        if_match=if_match if isinstance(if_match, str) else None,
        judge=ctx.judge,
        now=ctx.now,
    )
    row = result.row
    return {
        "response": {
            "status": "200 OK",
            "location": f"Observation/{row['id']}/_history/{row['version_id']}",
            "etag": etag(row),
            "lastModified": retraction.last_updated(row).isoformat(),
        }
    }
