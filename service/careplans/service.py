"""Reading, changing and previewing a patient's care plan.

A change is a new version; nothing is updated in place, so findings keep pointing at the
plan they were judged by. A preview replays the patient's own readings through the same
pure rules as live triage, under the current and the proposed plan.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

import alerts
from alerts.replay import HISTORY
from alerts.thresholds import band_at
from service.auth.principal import Principal
from service.careplans import repository
from service.careplans.schemas import (
    BandSchema,
    CarePlanPreview,
    CarePlanPreviewRequest,
    CarePlanRead,
    CarePlanVersionSummary,
    CarePlanWrite,
    CountBySeverity,
    PatientStatusRead,
    PlanOutcome,
    PlanSettings,
    ProposedBands,
    StatusChange,
    settings_of,
)
from service.errors import ApiError, Conflict, NotFound
from service.ingest import repository as observations
from service.journal import notes as journal_notes
from service.models_base import new_id
from service.queue import readings as rule_readings

# Plans as the rules take them, per patient and plan version (a version never changes)
# and the patient's status: the missing-reading scan parses every active patient's plan
# every tick (0.8 s at 20,000 patients, issue 18). Bounded: the oldest entries go first.
_PLANS: dict[tuple[str, int, str], alerts.CarePlan] = {}
_PLANS_KEPT = 50_000


def cached_alerts_plan(
    patient_id: str, version: int, protocol: str, settings: Mapping[str, Any], status: str
) -> alerts.CarePlan:
    key = (patient_id, version, status)
    plan = _PLANS.get(key)
    if plan is None:
        if len(_PLANS) >= _PLANS_KEPT:
            del _PLANS[next(iter(_PLANS))]
        plan = _PLANS[key] = to_alerts_plan(protocol, settings, status)
    return plan


def to_alerts_plan(protocol: str, settings: Mapping[str, Any], status: str) -> alerts.CarePlan:
    """The stored plan as the rules take it; ``status`` is the patient's."""
    parsed = PlanSettings.model_validate(settings)
    return alerts.CarePlan(
        protocol=protocol,
        status=alerts.PlanStatus(status),
        bands={k: b.to_band() for k, b in parsed.bands.items()},
        trial_ends_at=parsed.trial_ends_at,
        consecutive_required=dict(parsed.consecutive_required),
        weight_gain_kg=parsed.weight_gain_kg,
        weight_gain_days=parsed.weight_gain_days,
        spo2_baseline=parsed.spo2_baseline,
        spo2_drop_points=parsed.spo2_drop_points,
        spo2_scale=parsed.spo2_scale,
        schedule={
            k: None if s is None else alerts.Schedule(s.every_hours, s.window_hours, s.grace_hours)
            for k, s in parsed.schedule.items()
        },
        device_silence_hours=parsed.device_silence_hours,
    )


async def read_current(
    conn: AsyncConnection, principal: Principal, patient_id: str, now: datetime
) -> CarePlanRead:
    patient = await _patient(conn, principal, patient_id)
    row = await repository.current(conn, patient.id)
    if row is None:
        raise NotFound("this patient has no care plan yet")
    return _read(row, patient.status, now)


async def current_version_id(conn: AsyncConnection, patient_id: str) -> str:
    """The id of the current version's row: the FHIR CarePlan's id."""
    row = await repository.current(conn, patient_id)
    assert row is not None
    return str(row.id)


async def read_version(
    conn: AsyncConnection, principal: Principal, patient_id: str, number: int, now: datetime
) -> CarePlanRead:
    patient = await _patient(conn, principal, patient_id)
    row = await repository.version(conn, patient.id, number)
    if row is None:
        raise NotFound("no such care plan version")
    return _read(row, patient.status, now)


async def history(
    conn: AsyncConnection, principal: Principal, patient_id: str
) -> list[CarePlanVersionSummary]:
    patient = await _patient(conn, principal, patient_id)
    return [
        CarePlanVersionSummary.model_validate(row, from_attributes=True)
        for row in await repository.versions(conn, patient.id)
    ]


async def write(
    conn: AsyncConnection,
    principal: Principal,
    patient_id: str,
    change: CarePlanWrite,
    now: datetime,
    *,
    expected_version: int | None = None,
) -> CarePlanRead:
    """Store ``change`` as the next version.

    ``expected_version`` (from ``If-Match``) refuses a change made on a stale copy:
    two nurses editing one plan must not silently undo each other.
    """
    patient = await _patient(conn, principal, patient_id, for_update=True)
    protocol = _protocol(change.protocol)
    _check_safety(change, protocol)
    latest = await repository.current(conn, patient.id)
    latest_version = latest.version if latest is not None else 0
    if expected_version is not None and expected_version != latest_version:
        raise Conflict(
            f"the care plan is at version {latest_version}, not {expected_version}; "
            "reload it and make the change again"
        )
    values = {
        "id": new_id(),
        "centre_id": patient.centre_id,
        "patient_id": patient.id,
        "version": latest_version + 1,
        "protocol": protocol.code,
        "settings": settings_of(change),
        "reason": change.reason,
        "changed_by": principal.subject,
        "changed_by_role": principal.role.value,
        "changed_at": now,
    }
    await repository.insert(conn, values)
    note = journal_notes.care_plan_changed(latest_version + 1, protocol.code, change.reason, now)
    await journal_notes.record(conn, principal, patient.centre_id, patient.id, note, now)
    row = await repository.version(conn, patient.id, latest_version + 1)
    assert row is not None
    return _read(row, patient.status, now)


async def preview(
    conn: AsyncConnection,
    principal: Principal,
    patient_id: str,
    proposal: CarePlanPreviewRequest,
    now: datetime,
    zone: ZoneInfo,
) -> CarePlanPreview:
    patient = await _patient(conn, principal, patient_id)
    protocol = _protocol(proposal.protocol)
    _check_safety(proposal, protocol)
    since = now - timedelta(days=proposal.days)
    rows = await observations.recent_measurements(conn, [patient.id], since - HISTORY, limit=20_000)
    readings = [r for row in rows for r in rule_readings.from_row(row)]
    # Paused or ended patients are previewed as if active: the question is the plan.
    proposed_plan = to_alerts_plan(protocol.code, settings_of(proposal), "active")
    current = await repository.current(conn, patient.id)
    current_outcome = None
    if current is not None:
        current_plan = to_alerts_plan(current.protocol, current.settings, "active")
        current_outcome = _outcome(alerts.replay(current_plan, readings), since, zone)
    return CarePlanPreview(
        days=proposal.days,
        readings=len({r.reading_id for r in readings if r.effective_at >= since}),
        current=current_outcome,
        proposed=_outcome(alerts.replay(proposed_plan, readings), since, zone),
    )


async def propose(
    conn: AsyncConnection, principal: Principal, patient_id: str, now: datetime, days: int
) -> ProposedBands:
    """Bands from the readings of the ``days`` before the trial's end (or before now
    while it lasts), by ``alerts.propose_bands``: median +/- a robust spread."""
    patient = await _patient(conn, principal, patient_id)
    current = await repository.current(conn, patient.id)
    if current is None:
        raise NotFound("this patient has no care plan yet: set the protocol first")
    plan = to_alerts_plan(current.protocol, current.settings, "active")
    until = min(plan.trial_ends_at or now, now)
    since = until - timedelta(days=days)
    rows = await observations.recent_measurements(conn, [patient.id], since, limit=20_000)
    readings = [r for row in rows for r in rule_readings.from_row(row) if r.effective_at <= until]
    proposal = alerts.propose_bands(readings, alerts.load_protocol(current.protocol))
    return ProposedBands(
        since=since,
        until=until,
        readings=len({r.reading_id for r in readings}),
        bands={
            k: BandSchema(
                red_low=b.red_low,
                yellow_low=b.yellow_low,
                yellow_high=b.yellow_high,
                red_high=b.red_high,
            )
            for k, b in proposal.items()
        },
    )


async def change_status(
    conn: AsyncConnection,
    principal: Principal,
    patient_id: str,
    change: StatusChange,
    now: datetime,
) -> PatientStatusRead:
    """Pause (hospital stay, holiday), resume, or end follow-up. Resuming restarts the
    clock of expected readings, so a patient back from hospital is not "missing"."""
    patient = await _patient(conn, principal, patient_id, for_update=True)
    if patient.status == "ended":
        raise Conflict("follow-up of this patient has ended; enrol them again instead")
    await repository.set_status(conn, patient.id, change.status, now)
    note = journal_notes.status_changed(patient.status, change.status, change.reason, now)
    await journal_notes.record(conn, principal, patient.centre_id, patient.id, note, now)
    refreshed = await _patient(conn, principal, patient_id)
    return PatientStatusRead(
        patient_id=refreshed.id, status=refreshed.status, active_since=refreshed.active_since
    )


async def status_of(
    conn: AsyncConnection, principal: Principal, patient_id: str
) -> PatientStatusRead:
    """Whether the patient is followed up now (active), paused or ended."""
    patient = await _patient(conn, principal, patient_id)
    return PatientStatusRead(
        patient_id=patient.id, status=patient.status, active_since=patient.active_since
    )


def _outcome(found: Sequence[alerts.Finding], since: datetime, zone: ZoneInfo) -> PlanOutcome:
    counted = [f for f in found if f.effective_at is None or f.effective_at >= since]
    in_window = [f for f in counted if _when(f) >= since]
    by_day: dict[Any, alerts.Severity] = {}
    for finding in in_window:
        day = _when(finding).astimezone(zone).date()
        by_day[day] = max(by_day.get(day, alerts.Severity.GREEN), finding.severity)
    items = Counter(by_day.values())
    findings = Counter(f.severity for f in in_window)
    return PlanOutcome(
        items=CountBySeverity(yellow=items[alerts.Severity.YELLOW], red=items[alerts.Severity.RED]),
        findings=CountBySeverity(
            yellow=findings[alerts.Severity.YELLOW], red=findings[alerts.Severity.RED]
        ),
        findings_by_rule=dict(sorted(Counter(str(f.rule) for f in in_window).items())),
    )


def _when(finding: alerts.Finding) -> datetime:
    assert finding.effective_at is not None
    return finding.effective_at


async def _patient(
    conn: AsyncConnection, principal: Principal, patient_id: str, *, for_update: bool = False
) -> Row[Any]:
    row = await repository.visible_patient(conn, principal, patient_id, for_update=for_update)
    if row is None:
        raise NotFound("no such patient")
    return row


def _protocol(code: str) -> alerts.Protocol:
    if code not in alerts.available_protocols():
        known = ", ".join(alerts.available_protocols())
        raise ApiError(f"protocol: unknown protocol {code!r}; known: {known}")
    return alerts.load_protocol(code)


def _check_safety(plan: PlanSettings, protocol: alerts.Protocol) -> None:
    """A personal band may move yellow limits anywhere, but a red limit looser than the
    protocol's safety limit is refused: a critical value must never be muted."""
    for measurement, band in plan.bands.items():
        safety = protocol.safety_limits.get(measurement)
        if safety is None:
            continue
        if (
            band.red_low is not None
            and safety.red_low is not None
            and band.red_low < safety.red_low
        ):
            raise ApiError(
                f"bands.{measurement}.red_low: {band.red_low:g} is looser than the "
                f"protocol's safety limit {safety.red_low:g}"
            )
        if (
            band.red_high is not None
            and safety.red_high is not None
            and band.red_high > safety.red_high
        ):
            raise ApiError(
                f"bands.{measurement}.red_high: {band.red_high:g} is looser than the "
                f"protocol's safety limit {safety.red_high:g}"
            )


def _read(row: Row[Any], status: str, now: datetime) -> CarePlanRead:
    plan = to_alerts_plan(row.protocol, row.settings, status)
    protocol = alerts.load_protocol(row.protocol)
    measurements = sorted({*protocol.bands, *protocol.safety_limits, *plan.bands})
    effective = {}
    for measurement in measurements:
        band = band_at(plan, protocol, measurement, now)
        if band is not None:
            effective[measurement] = BandSchema(
                red_low=band.red_low,
                yellow_low=band.yellow_low,
                yellow_high=band.yellow_high,
                red_high=band.red_high,
            )
    return CarePlanRead(
        **PlanSettings.model_validate(row.settings).model_dump(),
        patient_id=row.patient_id,
        centre_id=row.centre_id,
        version=row.version,
        protocol=row.protocol,
        reason=row.reason,
        changed_by=row.changed_by,
        changed_by_role=row.changed_by_role,
        changed_at=row.changed_at,
        in_trial=plan.in_trial(now),
        effective_bands=effective,
    )
