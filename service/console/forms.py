"""Form fields into the queue's request models. A refusal is an ``ApiError`` whose
detail starts with the form field's name, so the page marks that field."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from service.console.deps import Form
from service.errors import ApiError
from service.queue.schemas import EscalateRequest, ResolveRequest, SnoozeRequest


def first_field(error: ValidationError, renames: dict[str, str] | None = None) -> str:
    loc = error.errors()[0].get("loc", ("form",))
    name = str(loc[0]) if loc else "form"
    return (renames or {}).get(name, name)


def snooze(form: Form, zone: ZoneInfo) -> SnoozeRequest:
    text = form.get("until")
    try:
        until = datetime.fromisoformat(text).replace(tzinfo=zone) if text else None
    except ValueError:
        until = None
    if until is None:
        raise ApiError("until: a date and time is required")
    try:
        return SnoozeRequest(until=until, reason=form.get("reason"))
    except ValidationError as error:
        raise ApiError(f"{first_field(error, {'reason': 'snooze_reason'})}: invalid") from None


def escalate(form: Form) -> EscalateRequest:
    try:
        return EscalateRequest(to=form.get("to"), reason=form.get("reason"))
    except ValidationError as error:
        raise ApiError(f"{first_field(error, {'reason': 'escalate_reason'})}: invalid") from None


def resolve(form: Form) -> ResolveRequest:
    minutes_text = form.get("minutes").replace(",", ".")
    try:
        minutes = float(minutes_text) if minutes_text else None
    except ValueError:
        raise ApiError("minutes: not a number") from None
    try:
        return ResolveRequest(
            outcome=form.get("outcome"),
            actions=form.all("actions"),
            minutes=minutes,
            note=form.get("note") or None,
        )
    except ValidationError as error:
        raise ApiError(f"{first_field(error)}: invalid") from None
