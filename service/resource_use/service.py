"""Logging nurse actions and events outside the service, and correcting them.

Nothing is overwritten: a correction is a new, whole row naming the row it corrects,
and only the newest row of a chain (its head) may be corrected, so a chain is a line
and the figures count its head. Resolving a queue item logs its actions here, in the
resolve's own transaction (``record_resolution``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal
from service.errors import ApiError, Conflict, NotFound
from service.models_base import new_id
from service.queue.schemas import Action
from service.resource_use import repository
from service.resource_use.models import ExternalKind, Source
from service.resource_use.schemas import (
    ExternalEventCorrection,
    ExternalEventCreate,
    ExternalEventRead,
    ResourceUseCorrection,
    ResourceUseCreate,
    ResourceUseRead,
    check_external,
)

# An item resolved without naming an action was at least looked at.
DEFAULT_QUEUE_ACTION = Action.reviewed_readings


async def record_resolution(conn: AsyncConnection, principal: Principal, item: Row[Any]) -> None:
    """One event per distinct action of a resolved queue item, at its resolve time.

    The item's minutes (by default the time from claim to resolve) are split evenly
    over its actions: the figures by action then add up to the nurse's time, and no
    action is favoured by the order the nurse ticked them in. A nurse corrects a share
    like any other event.
    """
    actions = list(dict.fromkeys(item.actions or ())) or [DEFAULT_QUEUE_ACTION.value]
    share = float(item.minutes or 0) / len(actions)
    await repository.insert_events(
        conn,
        [
            {
                "id": new_id(),
                "centre_id": item.centre_id,
                "patient_id": item.patient_id,
                "actor": principal.subject,
                "actor_role": principal.role.value,
                "item_id": item.id,
                "action": action,
                "minutes": share,
                "occurred_at": item.resolved_at,
                "recorded_at": item.resolved_at,
                "corrects": None,
                "retracted": False,
                "note": None,
                "source": Source.queue.value,
            }
            for action in actions
        ],
    )


async def log_action(
    conn: AsyncConnection,
    principal: Principal,
    patient_id: str,
    body: ResourceUseCreate,
    now: datetime,
    future_skew: timedelta,
) -> ResourceUseRead:
    patient = await repository.patient_for_actions(conn, principal, patient_id)
    if patient is None:
        raise NotFound("no such patient")
    occurred_at = body.occurred_at or now
    _not_in_future("occurred_at", occurred_at, now, future_skew)
    values = {
        "id": new_id(),
        "centre_id": patient.centre_id,
        "patient_id": patient.id,
        "actor": principal.subject,
        "actor_role": principal.role.value,
        "item_id": None,
        "action": body.action.value,
        "minutes": body.minutes,
        "occurred_at": occurred_at,
        "recorded_at": now,
        "corrects": None,
        "retracted": False,
        "note": body.note,
        "source": Source.nurse.value,
    }
    await repository.insert_events(conn, [values])
    return ResourceUseRead.model_validate(values)


async def correct_action(
    conn: AsyncConnection,
    principal: Principal,
    event_id: str,
    body: ResourceUseCorrection,
    now: datetime,
    future_skew: timedelta,
) -> ResourceUseRead:
    corrected = await repository.visible_event(conn, principal, event_id)
    if corrected is None:
        raise NotFound("no such resource-use event")
    _require_head(await repository.corrector_of_event(conn, event_id))
    changes = body.model_dump(exclude_unset=True, exclude={"retracted"})
    if "action" in changes:
        changes["action"] = Action(changes["action"]).value
    if changes.get("occurred_at") is not None:
        _not_in_future("occurred_at", changes["occurred_at"], now, future_skew)
    values = {
        **corrected._asdict(),
        **{k: v for k, v in changes.items() if v is not None or k == "note"},
        "id": new_id(),
        "actor": principal.subject,
        "actor_role": principal.role.value,
        "recorded_at": now,
        "corrects": corrected.id,
        "retracted": body.retracted,
    }
    with _one_correction_per_row():
        await repository.insert_events(conn, [values])
    return ResourceUseRead.model_validate(values)


async def actions_of(
    conn: AsyncConnection, principal: Principal, patient_id: str
) -> tuple[str, list[ResourceUseRead]]:
    """The patient's centre and every logged row, corrected ones with their corrector."""
    patient = await repository.patient_for_actions(conn, principal, patient_id)
    if patient is None:
        raise NotFound("no such patient")
    rows = await repository.events_of_patient(conn, principal, patient.id)
    return patient.centre_id, _with_correctors(rows, ResourceUseRead)


async def report_external(
    conn: AsyncConnection,
    principal: Principal,
    patient_id: str,
    body: ExternalEventCreate,
    now: datetime,
    future_skew: timedelta,
) -> tuple[ExternalEventRead, bool]:
    """Store the event; answers it and whether it is new (a retry with the same
    ``external_id`` answers the stored one)."""
    patient = await repository.patient_for_external(conn, principal, patient_id)
    if patient is None:
        raise NotFound("no such patient")
    _not_in_future("started_at", body.started_at, now, future_skew)
    if body.external_id is not None:
        known = await repository.external_by_reference(conn, patient.id, body.external_id)
        if known is not None:
            return ExternalEventRead.model_validate(known), False
    values = {
        "id": new_id(),
        "centre_id": patient.centre_id,
        "patient_id": patient.id,
        **body.model_dump(),
        "kind": body.kind.value,
        "reported_by": principal.subject,
        "reported_by_role": principal.role.value,
        "recorded_at": now,
        "corrects": None,
        "retracted": False,
    }
    await repository.insert_external(conn, values)
    return ExternalEventRead.model_validate(values), True


async def correct_external(
    conn: AsyncConnection,
    principal: Principal,
    event_id: str,
    body: ExternalEventCorrection,
    now: datetime,
    future_skew: timedelta,
) -> ExternalEventRead:
    corrected = await repository.visible_external(conn, principal, event_id)
    if corrected is None:
        raise NotFound("no such external event")
    _require_head(await repository.corrector_of_external(conn, event_id))
    changes = {
        k: v
        for k, v in body.model_dump(exclude_unset=True, exclude={"retracted"}).items()
        if v is not None or k in ("ended_at", "hours_per_week")
    }
    values = {
        **corrected._asdict(),
        **changes,
        "id": new_id(),
        # The reporting system's id stays with the first row: a retry finds the chain.
        "external_id": None,
        "reported_by": principal.subject,
        "reported_by_role": principal.role.value,
        "recorded_at": now,
        "corrects": corrected.id,
        "retracted": body.retracted,
    }
    values["kind"] = ExternalKind(values["kind"]).value
    try:
        check_external(
            ExternalKind(values["kind"]),
            values["started_at"],
            values["ended_at"],
            values["hours_per_week"],
        )
    except ValueError as error:
        raise ApiError(str(error)) from None
    _not_in_future("started_at", values["started_at"], now, future_skew)
    with _one_correction_per_row():
        await repository.insert_external(conn, values)
    return ExternalEventRead.model_validate(values)


async def externals_of(
    conn: AsyncConnection, principal: Principal, patient_id: str
) -> tuple[str, list[ExternalEventRead]]:
    patient = await repository.patient_for_external(conn, principal, patient_id)
    if patient is None:
        raise NotFound("no such patient")
    rows = await repository.externals_of_patient(conn, principal, patient.id)
    return patient.centre_id, _with_correctors(rows, ExternalEventRead)


def _require_head(corrector: str | None) -> None:
    if corrector is not None:
        raise Conflict(f"this event is already corrected by {corrector}; correct that one")


@contextmanager
def _one_correction_per_row() -> Iterator[None]:
    """Two corrections of one row at once meet the unique ``corrects``: the second
    gets 409, as if it had come a moment later."""
    try:
        yield
    except sa.exc.IntegrityError:
        raise Conflict("this event was corrected by someone else just now; reload it") from None


Read = TypeVar("Read", bound=BaseModel)


def _with_correctors(rows: Sequence[Row[Any]], model: type[Read]) -> list[Read]:
    """Every row as read, a corrected one naming the row that replaced it."""
    correctors = {r.corrects: r.id for r in rows if r.corrects is not None}
    return [
        model.model_validate({**r._asdict(), "corrected_by": correctors.get(r.id)}) for r in rows
    ]


def _not_in_future(field: str, moment: datetime, now: datetime, skew: timedelta) -> None:
    if moment > now + skew:
        raise ApiError(f"{field}: in the future")
