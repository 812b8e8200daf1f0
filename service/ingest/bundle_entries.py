"""What a gateway Bundle's Patient and Device entries mean: the enrolled patient its
conditional Patient names (a gateway never enrols anyone) and the Device registered or
found in that patient's centre. Their references fill the Bundle's ``References`` so
its Observations can point at them by ``urn:uuid:``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal, Role
from service.devices import resources as devices_resources
from service.fhirkit.outcome import FhirError
from service.fhirkit.validation import validate
from service.ingest import service as ingest
from service.ingest.refs import DeviceRef, PatientRef, References
from service.patients import repository as patients
from service.patients.identity_number import DNR_SYSTEM, FNR_SYSTEM
from service.patients.identity_vault import IdentityVault


async def resolve_patient(
    conn: AsyncConnection,
    principal: Principal,
    resource: dict[str, Any],
    request: dict[str, Any],
    vault: IdentityVault,
) -> PatientRef:
    """The enrolled patient a gateway's conditional Patient entry means.

    The ``ifNoneExist`` condition is tried first, then the resource's own identifiers:
    the IG's own example Bundle names a slightly different system in its condition.
    """
    validate(resource, "Patient")
    for system, value in _candidate_identifiers(request.get("ifNoneExist") or "", resource):
        value_hash = vault.lookup_hash(system, value)
        if system in (FNR_SYSTEM, DNR_SYSTEM):
            row = await patients.find_for_readings_by_identity(conn, principal, value_hash)
        else:
            row = await patients.find_for_readings_by_other_identifier(
                conn, principal, system, value_hash
            )
        if row is not None:
            return PatientRef(row.id, row.centre_id)
    raise FhirError.one(
        422,
        "not-found",
        "this patient is not enrolled at a follow-up centre you report for; a gateway "
        "cannot enrol patients: ask the centre to enrol the patient first",
        "Patient.identifier",
    )


def _candidate_identifiers(condition: str, resource: dict[str, Any]) -> list[tuple[str, str]]:
    """(system, value) pairs to match: ``ifNoneExist=identifier=system|value`` first,
    then the resource's own identifiers."""
    candidates: list[tuple[str, str]] = []
    if condition.startswith("identifier="):
        system, bar, value = condition.removeprefix("identifier=").rpartition("|")
        if bar and value:
            candidates.append((system, value))
    candidates.extend(
        (i.get("system", ""), i["value"])
        for i in resource.get("identifier") or ()
        if i.get("value")
    )
    return candidates


async def device_entry(
    conn: AsyncConnection,
    principal: Principal,
    resource: dict[str, Any],
    request: dict[str, Any],
    ctx: ingest.IngestContext,
    refs: References,
    full_url: Any,
) -> dict[str, Any]:
    """A gateway's Device: by conditional create (``POST`` with ``ifNoneExist``), update
    or update-as-create (``PUT Device/{id}``) or conditional update (``PUT
    Device?identifier=``), in the centre of the Bundle's patient. A device new to the
    centre (or never lent) is lent to the Bundle's patient on first use; one that
    another patient holds is answered as found, and its readings decide for themselves."""
    target = devices_resources.target_of(
        str(request.get("method") or ""),
        str(request.get("url") or ""),
        request.get("ifNoneExist"),
        "Entry.request",
    )
    centre_id = await _device_centre(conn, principal, refs)
    patient = refs.only_patient()
    written = await devices_resources.write(
        conn,
        principal,
        resource,
        target,
        centre_id=centre_id,
        patient_id=patient.id if patient is not None else None,
        now=ctx.now,
    )
    row = written.row
    device = DeviceRef(
        row.id, row.centre_id, written.loans, row.clock_offset_seconds, row.clock_doubtful
    )
    if full_url:
        refs.devices[full_url] = device
    refs.devices[f"Device/{device.id}"] = device
    if target.device_id is not None:  # the gateway's own id, if it differs from ours
        refs.devices[f"Device/{target.device_id}"] = device
    status = "201 Created" if written.created else "200 OK"
    return {"response": {"status": status, "location": f"Device/{device.id}"}}


async def _device_centre(conn: AsyncConnection, principal: Principal, refs: References) -> str:
    """The Bundle's patient's centre; for a patient's token without a Patient entry,
    theirs; else the caller's only centre."""
    centres = {p.centre_id for p in refs.patients.values()}
    if not centres and principal.role is Role.patient:
        own = await ingest.resolve_patient(conn, principal, f"Patient/{principal.subject}", refs)
        centres = {own.centre_id}
    if len(centres) != 1:
        centres = set(principal.centres) if len(principal.centres) == 1 else set()
    if len(centres) != 1:
        raise FhirError.one(
            422,
            "required",
            "a Device entry needs the Bundle's Patient entry (to know the centre)",
            "Device",
        )
    return centres.pop()
