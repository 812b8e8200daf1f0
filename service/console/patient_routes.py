"""The patient page and the item's actions as plain form posts.

Each action calls the queue service as the API route does, audits it as an update,
and answers with a redirect to the patient page (so a reload repeats nothing). A
refusal re-renders the page with the error at the field it concerns; a lost race
says who won and when.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import ValidationError
from starlette.responses import Response

from service.audit import service as audit
from service.careplans import service as careplans
from service.careplans.schemas import StatusChange
from service.console import forms, patient_view
from service.console.deps import ConsoleForm, ConsolePage, Page
from service.deps import Db
from service.errors import ApiError, Conflict
from service.models_base import utcnow
from service.queue import service as queue
from service.queue.schemas import Action, EscalationTarget, Outcome

router = APIRouter(prefix="/console", include_in_schema=False)

DONE = (
    "contact_planned",
    "contact_cancelled",
    "claim",
    "release",
    "snooze",
    "escalate",
    "resolve",
    "status",
    "plan",
    "enrolled",
    "kit_returned",
    "message",
)


async def render_patient(
    page: Page, db: Db, patient_id: str, days: int, status: int = 200, **extra: Any
) -> Response:
    context = await patient_view.gather(page, db, patient_id, days)
    return page.render(
        "patient.html",
        status_code=status,
        outcomes=list(Outcome),
        action_codes=list(Action),
        targets=list(EscalationTarget),
        errors=extra.pop("errors", {}),
        values=extra.pop("values", {}),
        **context,
        **extra,
    )


@router.get("/patients/{patient_id}")
async def patient_page(
    patient_id: str,
    page: ConsolePage,
    db: Db,
    days: Annotated[int, Query()] = 30,
    done: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    days = days if days in patient_view.PERIODS else 30
    return await render_patient(page, db, patient_id, days, done=done if done in DONE else "")


async def _after(form: ConsoleForm, db: Db, item_id: str, verb: str) -> Response:
    """Audited as the API's ``_changed``; then back to the patient's page."""
    page = form.page
    item = await queue.get_item(db, page.principal, item_id, utcnow(), page.state.local_zone)
    await audit.record(
        db,
        page.principal,
        action=audit.UPDATE,
        subtype=verb,
        resource_type="Task",
        resource_id=item.id,
        patient_id=item.patient_id,
        centre_id=item.centre_id,
    )
    return page.redirect(f"/console/patients/{item.patient_id}?done={verb}#item")


async def _refused(
    form: ConsoleForm, db: Db, item_id: str, error: ApiError, values: dict[str, Any]
) -> Response:
    """A lost race (409) names who won and when; a bad field is marked at the field."""
    page = form.page
    item = await queue.get_item(db, page.principal, item_id, utcnow(), page.state.local_zone)
    if isinstance(error, Conflict):
        history = await queue.history(db, page.principal, item_id)
        last = history[-1] if history else None
        race = {
            "kind": last.kind if last else "",
            "who": last.actor if last else "",
            "when": page.texts.datetime(last.at) if last else "",
        }
        return await render_patient(
            page, db, item.patient_id, 30, status=409, race=race, values=values
        )
    field = error.detail.partition(":")[0] if ":" in error.detail else "form"
    return await render_patient(
        page, db, item.patient_id, 30, status=400, errors={field: f"field.{field}"}, values=values
    )


@router.post("/items/{item_id}/claim")
async def claim(item_id: str, form: ConsoleForm, db: Db) -> Response:
    try:
        await queue.claim(db, form.page.principal, item_id, utcnow())
    except Conflict as error:
        return await _refused(form, db, item_id, error, {})
    return await _after(form, db, item_id, "claim")


@router.post("/items/{item_id}/release")
async def release(item_id: str, form: ConsoleForm, db: Db) -> Response:
    try:
        await queue.release(db, form.page.principal, item_id, utcnow())
    except Conflict as error:
        return await _refused(form, db, item_id, error, {})
    return await _after(form, db, item_id, "release")


@router.post("/items/{item_id}/snooze")
async def snooze(item_id: str, form: ConsoleForm, db: Db) -> Response:
    values = {"until": form.get("until"), "snooze_reason": form.get("reason")}
    try:
        request = forms.snooze(form, form.page.state.local_zone)
        await queue.snooze(db, form.page.principal, item_id, request, utcnow())
    except ApiError as error:
        return await _refused(form, db, item_id, error, values)
    return await _after(form, db, item_id, "snooze")


@router.post("/items/{item_id}/escalate")
async def escalate(item_id: str, form: ConsoleForm, db: Db) -> Response:
    values = {"to": form.get("to"), "escalate_reason": form.get("reason")}
    try:
        request = forms.escalate(form)
        await queue.escalate(db, form.page.principal, item_id, request, utcnow())
    except ApiError as error:
        return await _refused(form, db, item_id, error, values)
    return await _after(form, db, item_id, "escalate")


@router.post("/items/{item_id}/resolve")
async def resolve(item_id: str, form: ConsoleForm, db: Db) -> Response:
    values = {
        "outcome": form.get("outcome"),
        "actions": form.all("actions"),
        "minutes": form.get("minutes"),
        "note": form.get("note"),
    }
    try:
        request = forms.resolve(form)
        await queue.resolve(db, form.page.principal, item_id, request, utcnow())
    except ApiError as error:
        return await _refused(form, db, item_id, error, values)
    return await _after(form, db, item_id, "resolve")


@router.post("/patients/{patient_id}/status")
async def change_status(patient_id: str, form: ConsoleForm, db: Db) -> Response:
    page = form.page
    values = {"status": form.get("status"), "status_reason": form.get("reason")}
    try:
        change = StatusChange(status=form.get("status"), reason=form.get("reason"))
    except ValidationError as error:
        field = forms.first_field(error, {"reason": "status_reason"})
        return await render_patient(
            page, db, patient_id, 30, status=400, errors={field: f"field.{field}"}, values=values
        )
    try:
        await careplans.change_status(db, page.principal, patient_id, change, utcnow())
    except Conflict:
        return await render_patient(
            page,
            db,
            patient_id,
            30,
            status=409,
            errors={"status": "field.status_ended"},
            values=values,
        )
    await audit.record(
        db,
        page.principal,
        action=audit.UPDATE,
        subtype="update",
        resource_type="Patient",
        resource_id=patient_id,
        patient_id=patient_id,
    )
    return page.redirect(f"/console/patients/{patient_id}?done=status")
