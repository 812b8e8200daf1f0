"""FHIR Device writes and reads, as the PHD IG's gateways send them: create (also
conditional, ``ifNoneExist``), update, update-as-create and conditional update on the
identifier, alone (``/fhir/Device``) or as Bundle entries.

A device is known in its centre by its first identifier (the IEEE 11073 system id a
PHD gateway sends first). A write never answers an error because of who holds the
device: a gateway uploading its Device gets 200 or 201, and whose readings are whose
is decided reading by reading (``service.devices.loans``). What a write may change:

* staff and systems of the centre: the stored resource;
* a patient (their gateway): the resource of a device they hold now, or one never
  lent; another patient's kit is answered as found, unchanged.

A new device (or one never lent) written for a patient is lent to them on first use.
Identifiers and serials are never logged; the stored resource is kept as sent, less
the elements that are ours to say (``id``, ``meta``, ``patient``, ``owner``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal, Role
from service.devices import loans, repository
from service.fhirkit.outcome import FhirError
from service.fhirkit.validation import validate
from service.models_base import new_id

# FHIR's id pattern, within the length of our key.
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,36}$")
_OURS = ("id", "meta", "patient", "owner")


@dataclass(frozen=True)
class Target:
    """Which device a write means: ``device_id`` (PUT Device/{id}), or the identifier
    (POST, ifNoneExist, conditional update); ``update`` whether an existing device's
    resource is replaced (PUT) or merely found (POST)."""

    update: bool
    device_id: str | None = None
    identifier: tuple[str, str] | None = None


@dataclass(frozen=True)
class Written:
    row: Row[Any]
    created: bool
    loans: tuple[loans.Loan, ...]


def target_of(method: str, url: str, if_none_exist: str | None, where: str) -> Target:
    """The target of a Device request: ``url`` is the part after the base
    (``Device``, ``Device/abc``, ``Device?identifier=system|value``)."""
    path, _, query = url.partition("?")
    if method == "POST" and path == "Device" and not query:
        condition = _identifier_condition(if_none_exist, where) if if_none_exist else None
        return Target(update=False, identifier=condition)
    if method == "PUT" and path == "Device" and query:
        return Target(update=True, identifier=_identifier_condition(query, where))
    if method == "PUT" and path.startswith("Device/") and not query:
        device_id = path.removeprefix("Device/")
        if not _ID.match(device_id):
            raise FhirError.one(
                422,
                "value",
                "a Device id is 1-36 letters, digits, '-' or '.'; for a longer one update "
                "by identifier (PUT Device?identifier=system|value)",
                where,
            )
        return Target(update=True, device_id=device_id)
    raise FhirError.one(
        422,
        "not-supported",
        "a Device is sent by POST Device, PUT Device/{id} or PUT Device?identifier=system|value",
        where,
    )


def _identifier_condition(query: str, where: str) -> tuple[str, str]:
    name, _, token = query.partition("=")
    system, bar, value = token.rpartition("|")
    if name != "identifier" or "&" in token or not bar or not system or not value:
        raise FhirError.one(
            422, "not-supported", "the condition must be identifier=system|value", where
        )
    return system, value


def identifier_of(resource: dict[str, Any]) -> tuple[str, str]:
    for identifier in resource.get("identifier") or ():
        if identifier.get("value"):
            return str(identifier.get("system") or ""), str(identifier["value"])
    raise FhirError.one(422, "required", "a Device must carry an identifier", "Device.identifier")


async def write(
    conn: AsyncConnection,
    principal: Principal,
    resource: dict[str, Any],
    target: Target,
    *,
    centre_id: str,
    patient_id: str | None,
    now: datetime,
) -> Written:
    """Create, find or update the device ``target`` means in ``centre_id``; a device
    created (or never lent) is lent to ``patient_id`` on first use, if one is given."""
    validate(resource, "Device")
    if target.device_id is not None and resource.get("id") not in (None, target.device_id):
        raise FhirError.one(400, "invalid", "the Device's id differs from the URL's", "Device.id")
    system, value = target.identifier or identifier_of(resource)
    stored = _stored(resource)
    row = None
    if target.device_id is not None:
        row = await repository.get(conn, target.device_id)
        if row is not None and row.centre_id != centre_id:
            raise FhirError.one(
                409,
                "conflict",
                "this Device id is taken; send the Device by its identifier instead",
                "Device.id",
            )
    if row is None:
        row = await repository.find_by_identifier(conn, centre_id, system, value)
    created = False
    if row is None:
        row, created = await repository.insert_if_absent(
            conn,
            {
                "id": target.device_id or new_id(),
                "centre_id": centre_id,
                "identifier_system": system,
                "identifier_value": value,
                "kind": _kind(resource),
                "resource": stored,
                "clock_doubtful": False,
                "version_id": 1,
                "created_at": now,
            },
        )
    history = (await loans.loans_of(conn, [row.id]))[row.id]
    if not created and target.update and _may_update(principal, history):
        await repository.update_resource(conn, row.id, stored, _kind(resource), now)
        row = await repository.get(conn, row.id)
        assert row is not None
    if not history and patient_id is not None:
        history = await loans.lend_on_first_use(
            conn, device_id=row.id, centre_id=centre_id, patient_id=patient_id, at=None, now=now
        )
    return Written(row, created, history)


def _may_update(principal: Principal, history: tuple[loans.Loan, ...]) -> bool:
    if principal.role is not Role.patient:
        return True  # staff and systems, within their centres (the caller checked)
    holder = loans.current_holder(history)
    return holder == principal.subject or not history


def _stored(resource: dict[str, Any]) -> str:
    return orjson.dumps({k: v for k, v in resource.items() if k not in _OURS}).decode()


def _kind(resource: dict[str, Any]) -> str | None:
    for coding in (resource.get("type") or {}).get("coding") or ():
        if coding.get("display") or coding.get("code"):
            return str(coding.get("display") or coding.get("code"))[:200]
    return None


def device_to_fhir(
    row: Row[Any], history: tuple[loans.Loan, ...], principal: Principal
) -> dict[str, Any]:
    """The stored Device with our id, version, centre and, for those who may know it,
    the patient who holds it now."""
    resource: dict[str, Any] = {"resourceType": "Device", **orjson.loads(row.resource)}
    resource["id"] = row.id
    resource["meta"] = {
        "versionId": str(row.version_id),
        "lastUpdated": (row.updated_at or row.created_at).isoformat(),
    }
    resource["owner"] = {"reference": f"Organization/{row.centre_id}"}
    holder = loans.current_holder(history)
    if holder is not None and (principal.role is not Role.patient or holder == principal.subject):
        resource["patient"] = {"reference": f"Patient/{holder}"}
    return resource


def etag(row: Row[Any]) -> str:
    return f'W/"{row.version_id}"'
