"""Creating and changing follow-up centres, for the API and ``dho centre``.

Who: an admin creates a centre (a new tenant; the identity provider then grants staff
its id); an admin changes only their own centres (the UPDATE's WHERE says so, through
``service.tenancy``); staff read their own. A centre is not patient data, but creating
and changing one decides who will see whose data, so both are audited as admin
actions (resource ``Organization``, the centre's id, no patient), where the centre's
auditors find them. The queue's service levels live in ``queue_policy`` and are read
and written here as the centre's SLA fields (also at ``/api/centres/{id}/queue-policy``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from service.audit import service as audit
from service.auth.principal import Principal, Role
from service.centres import repository, validation
from service.centres.schemas import CentreCreate, CentreRead, CentreUpdate
from service.errors import Conflict, Forbidden, NotFound, Unprocessable
from service.models_base import utcnow
from service.queue import repository as queue_repository
from service.queue.models import DEFAULT_RED_CLAIM_MINUTES, DEFAULT_RED_RESOLVE_MINUTES


async def create(conn: AsyncConnection, principal: Principal, body: CentreCreate) -> CentreRead:
    if principal.role is not Role.admin:
        raise Forbidden("only an admin creates follow-up centres")
    values: dict[str, Any] = {
        "id": _checked(validation.centre_id, body.id),
        "name": _checked(validation.name, body.name),
        "org_number": _checked(validation.org_number, body.org_number),
        "municipalities": _checked(validation.municipalities, body.municipalities),
        "time_zone": _checked(validation.time_zone, body.time_zone),
        "created_at": utcnow(),
    }
    if not await repository.insert(conn, values):
        raise Conflict("a centre with this id exists")
    await _set_sla(conn, values["id"], body.red_claim_minutes, body.red_resolve_minutes)
    await _audit(conn, principal, audit.CREATE, "create", values["id"], 201)
    return await _read(conn, values["id"])


async def update(
    conn: AsyncConnection, principal: Principal, centre_id: str, body: CentreUpdate
) -> CentreRead:
    checks: dict[str, Callable[[Any], Any]] = {
        "name": validation.name,
        "org_number": validation.org_number,
        "municipalities": validation.municipalities,
        "time_zone": validation.time_zone,
    }
    values = {
        field: _checked(check, getattr(body, field))
        for field, check in checks.items()
        if getattr(body, field) is not None
    }
    if values:
        changed = await repository.update_managed(conn, principal, centre_id, values)
    else:
        changed = await repository.exists_managed(conn, principal, centre_id)
    if not changed:
        raise NotFound("no such centre")
    await _set_sla(conn, centre_id, body.red_claim_minutes, body.red_resolve_minutes)
    await _audit(conn, principal, audit.UPDATE, "update", centre_id, 200)
    return await _read(conn, centre_id)


async def read(conn: AsyncConnection, principal: Principal, centre_id: str) -> CentreRead:
    if await repository.get_visible(conn, principal, centre_id) is None:
        raise NotFound("no such centre")
    return await _read(conn, centre_id)


async def list_visible(conn: AsyncConnection, principal: Principal) -> list[CentreRead]:
    rows = await repository.list_visible(conn, principal)
    return [await _read(conn, row.id) for row in rows]


async def list_all(conn: AsyncConnection) -> list[CentreRead]:
    """Every centre, for the operator at the command line."""
    return [await _read(conn, row.id) for row in await repository.list_all(conn)]


def _checked(check: Callable[[Any], Any], value: Any) -> Any:
    try:
        return check(value)
    except validation.InvalidCentre as error:
        raise Unprocessable(str(error)) from None


async def _set_sla(
    conn: AsyncConnection, centre_id: str, claim: int | None, resolve: int | None
) -> None:
    if claim is None and resolve is None:
        return
    current = await queue_repository.policy_of(conn, centre_id)
    await queue_repository.set_policy(
        conn,
        centre_id,
        {
            "red_claim_minutes": claim
            or (current.red_claim_minutes if current else DEFAULT_RED_CLAIM_MINUTES),
            "red_resolve_minutes": resolve
            or (current.red_resolve_minutes if current else DEFAULT_RED_RESOLVE_MINUTES),
        },
    )


async def _read(conn: AsyncConnection, centre_id: str) -> CentreRead:
    row = await repository.get(conn, centre_id)
    assert row is not None
    policy = await queue_repository.policy_of(conn, centre_id)
    return CentreRead(
        id=row.id,
        name=row.name,
        org_number=row.org_number,
        municipalities=list(row.municipalities),
        time_zone=row.time_zone,
        red_claim_minutes=policy.red_claim_minutes if policy else DEFAULT_RED_CLAIM_MINUTES,
        red_resolve_minutes=policy.red_resolve_minutes if policy else DEFAULT_RED_RESOLVE_MINUTES,
        created_at=row.created_at,
    )


async def _audit(
    conn: AsyncConnection,
    principal: Principal,
    action: str,
    subtype: str,
    centre_id: str,
    status: int,
) -> None:
    await audit.record(
        conn,
        principal,
        action=action,
        subtype=subtype,
        resource_type="Organization",
        resource_id=centre_id,
        centre_id=centre_id,
        status=status,
    )
