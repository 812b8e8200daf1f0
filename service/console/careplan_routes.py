"""The care-plan editor: personal bands, a preview of what the change would have raised
over the last 30 days, then saving a new version.

Both buttons post the same form: *preview* runs ``careplans.preview`` (stores nothing),
*save* runs ``careplans.write`` with the version the nurse started from, so a colleague's
change in between is refused rather than undone. Refusals (a band out of order, a red
limit looser than the protocol's safety limit, a stale copy) are shown at their field.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter
from pydantic import ValidationError
from starlette.responses import Response

from service.audit import service as audit
from service.careplans import service as careplans
from service.careplans.schemas import (
    BandSchema,
    CarePlanPreviewRequest,
    CarePlanRead,
    CarePlanWrite,
    PlanSettings,
)
from service.console.deps import ConsoleForm, ConsolePage, Page
from service.deps import Db
from service.errors import ApiError, Conflict
from service.models_base import utcnow

router = APIRouter(prefix="/console", include_in_schema=False)

LIMITS = ("red_low", "yellow_low", "yellow_high", "red_high")
PREVIEW_DAYS = 30
# Readings the proposal rests on: a trial of 2-4 weeks (as the API's default).
PROPOSE_DAYS = 28
_SAFETY = re.compile(r"^bands\.([a-z_0-9]+)\.(red_low|red_high): .* safety limit (\S+)$")


async def _record(page: Page, db: Db, action: str, subtype: str, patient_id: str) -> None:
    await audit.record(
        db,
        page.principal,
        action=action,
        subtype=subtype,
        resource_type="CarePlan",
        resource_id=patient_id,
        patient_id=patient_id,
    )


def _values_of(plan: CarePlanRead) -> dict[str, str]:
    values = {"version": str(plan.version), "protocol": plan.protocol, "reason": ""}
    for measurement, band in plan.bands.items():
        for limit in LIMITS:
            number = getattr(band, limit)
            values[f"{measurement}.{limit}"] = "" if number is None else f"{number:g}"
    return values


async def _render(
    page: Page, db: Db, patient_id: str, values: dict[str, str], status: int = 200, **extra: Any
) -> Response:
    plan = await careplans.read_current(db, page.principal, patient_id, utcnow())
    await _record(page, db, audit.READ, "read", patient_id)
    return page.render(
        "careplan.html",
        status_code=status,
        plan=plan,
        patient_id=patient_id,
        limits=LIMITS,
        values=values,
        errors=extra.pop("errors", {}),
        preview=extra.pop("preview", None),
        proposal=extra.pop("proposal", None),
        **extra,
    )


@router.get("/patients/{patient_id}/care-plan")
async def editor(patient_id: str, page: ConsolePage, db: Db) -> Response:
    plan = await careplans.read_current(db, page.principal, patient_id, utcnow())
    return await _render(page, db, patient_id, _values_of(plan))


def _number(text: str, field: str, errors: dict[str, tuple[str, dict[str, str]]]) -> float | None:
    text = text.strip().replace(",", ".")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        errors[field] = ("field.band_number", {})
        return None


def _settings(
    form: ConsoleForm, plan: CarePlanRead, errors: dict[str, tuple[str, dict[str, str]]]
) -> dict[str, Any]:
    """The current plan's settings with the bands as the form has them."""
    settings = plan.model_dump(include=set(PlanSettings.model_fields))
    bands: dict[str, Any] = {}
    for measurement in plan.effective_bands:
        numbers = {
            limit: _number(form.get(f"{measurement}.{limit}"), f"{measurement}.{limit}", errors)
            for limit in LIMITS
        }
        if any(v is not None for v in numbers.values()):
            # A limit left empty in a row she changed keeps the value in force now: an
            # empty red limit must not quietly fall back to the looser safety limit.
            effective = plan.effective_bands[measurement]
            numbers = {k: getattr(effective, k) if v is None else v for k, v in numbers.items()}
            try:
                bands[measurement] = BandSchema(**numbers)
            except ValidationError:
                errors[f"{measurement}.red_low"] = ("field.band_order", {})
    settings["bands"] = bands
    return settings


async def _proposed(page: Page, db: Db, patient_id: str, values: dict[str, str]) -> Response:
    """Personal bands from the patient's own readings (``careplans.propose``), filled in
    for the nurse to check, preview and save; nothing is stored."""
    proposal = await careplans.propose(db, page.principal, patient_id, utcnow(), PROPOSE_DAYS)
    await _record(page, db, audit.EXECUTE, "operation", patient_id)
    filled = dict(values)
    for measurement, band in proposal.bands.items():
        for limit in LIMITS:
            number = getattr(band, limit)
            filled[f"{measurement}.{limit}"] = "" if number is None else f"{number:g}"
    return await _render(page, db, patient_id, filled, proposal=proposal)


@router.post("/patients/{patient_id}/care-plan")
async def submit(patient_id: str, form: ConsoleForm, db: Db) -> Response:
    page = form.page
    plan = await careplans.read_current(db, page.principal, patient_id, utcnow())
    values = {k: form.get(k) for k in form.fields if k != "csrf"}
    if form.get("intent") == "propose":
        return await _proposed(page, db, patient_id, values)
    errors: dict[str, tuple[str, dict[str, str]]] = {}
    settings = _settings(form, plan, errors)
    reason = form.get("reason")
    if form.get("intent") == "save" and not reason:
        errors["reason"] = ("field.plan_reason", {})
    if errors:
        return await _render(page, db, patient_id, values, 400, errors=errors)
    try:
        if form.get("intent") == "save":
            version = form.get("version")
            change = CarePlanWrite(**settings, protocol=plan.protocol, reason=reason)
            await careplans.write(
                db,
                page.principal,
                patient_id,
                change,
                utcnow(),
                expected_version=int(version) if version.isdigit() else None,
            )
            await _record(page, db, audit.UPDATE, "update", patient_id)
            return page.redirect(f"/console/patients/{patient_id}?done=plan")
        proposal = CarePlanPreviewRequest(**settings, protocol=plan.protocol, days=PREVIEW_DAYS)
        preview = await careplans.preview(
            db, page.principal, patient_id, proposal, utcnow(), page.state.local_zone
        )
        await _record(page, db, audit.EXECUTE, "operation", patient_id)
        return await _render(page, db, patient_id, values, preview=preview)
    except Conflict:
        errors["version"] = ("field.plan_stale", {})
        return await _render(page, db, patient_id, values, 409, errors=errors)
    except ApiError as error:
        found = _SAFETY.match(error.detail)
        if found is None:
            errors["form"] = ("field.form", {})
        else:
            field = f"{found.group(1)}.{found.group(2)}"
            errors[field] = ("field.band_safety", {"limit": found.group(3)})
        return await _render(page, db, patient_id, values, 400, errors=errors)
