"""Everything the patient page shows, read through the API's services and audited as
the API audits the same reads: the patient, the care plan and its versions, the latest
queue item and its history, the readings of the period, the resource-use log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncConnection

import alerts
from alerts.findings import is_late
from service.audit import service as audit
from service.careplans import service as careplans
from service.careplans.schemas import BandSchema, CarePlanRead
from service.console import svg, views
from service.console.deps import Page
from service.contacts import service as contacts
from service.devices import service as devices
from service.errors import NotFound
from service.ingest import repository as observations
from service.messages import service as messages
from service.models_base import new_id, utcnow
from service.patients import service as patients
from service.queue import readings as rule_readings
from service.queue import service as queue
from service.resource_use import service as resource_use

PERIODS = (7, 30, 90)
READINGS_SHOWN = 3000
# The latest messages of a thread shown on the page (the API pages through older ones).
THREAD_SHOWN = 30


@dataclass(frozen=True)
class ReadingView:
    at: datetime
    measurement: str
    value: float
    unit: str
    original: tuple[float, str] | None  # (108, "mg/dL") when the device sent another unit
    severity: str
    late: bool
    doubtful: bool
    time_note: str | None


async def _record(page: Page, db: AsyncConnection, subtype: str, kind: str, pid: str) -> None:
    await audit.record(
        db,
        page.principal,
        action=audit.READ,
        subtype=subtype,
        resource_type=kind,
        resource_id=pid,
        patient_id=pid,
    )


async def gather(page: Page, db: AsyncConnection, patient_id: str, days: int) -> dict[str, Any]:
    """Raises NotFound for a patient outside the nurse's reach, before reading anything
    else: the 404 page then holds nothing of the patient."""
    principal, zone, now = page.principal, page.state.local_zone, utcnow()
    status = await careplans.status_of(db, principal, patient_id)
    resource = await patients.read(db, principal, patient_id, page.state.vault)
    await _record(page, db, "read", "Patient", patient_id)
    try:
        plan: CarePlanRead | None = await careplans.read_current(db, principal, patient_id, now)
        await _record(page, db, "read", "CarePlan", patient_id)
    except NotFound:
        plan = None
    versions = await careplans.history(db, principal, patient_id)
    await _record(page, db, "history-instance", "CarePlan", patient_id)
    item = await queue.latest_item(db, principal, patient_id, now, zone)
    history = []
    if item is not None:
        history = await queue.history(db, principal, item.id)
        await audit.record(
            db,
            principal,
            action=audit.READ,
            subtype="read",
            resource_type="Task",
            resource_id=item.id,
            patient_id=patient_id,
            centre_id=item.centre_id,
        )
    since = now - timedelta(days=days)
    rows = await observations.search_visible(
        db,
        principal,
        patient_id=patient_id,
        codes=None,
        date_bounds=[("ge", since)],
        newest_first=True,
        after=None,
        limit=READINGS_SHOWN,
    )
    await audit.record_search(
        db,
        principal,
        "Observation",
        [("patient", patient_id), ("date", f"ge{since.date()}")],
        [(r.patient_id, r.centre_id) for r in rows],
        requested_patient=patient_id,
    )
    verdicts = await page.state.judge.verdicts(db, [r._mapping for r in rows])
    severities = await queue.severity_by_measurement(db, [r.id for r in rows])
    centre_id, actions = await resource_use.actions_of(db, principal, patient_id)
    await audit.record_search(
        db, principal, "Procedure", [("patient", patient_id)], [(patient_id, centre_id)]
    )
    loans = await devices.search(
        db, principal, device_id=None, patient_id=patient_id, open_only=False, limit=50
    )
    await audit.record_search(
        db,
        principal,
        "Device",
        [("patient_id", patient_id)],
        [(loan.patient_id, loan.centre_id) for loan in loans],
        requested_patient=patient_id,
    )
    thread, marked = await _thread(page, db, patient_id)
    planned = await _planned(page, db, patient_id)
    readings = _readings(rows, verdicts, severities, plan)
    flagged = {f.observation_id for f in item.findings} if item else set()
    return {
        "patient": _patient(resource, page, now),
        "status": status,
        "plan": plan,
        "versions": versions,
        "item": views.row_view(item, page.texts, {}, now) if item else None,
        "history": history,
        "readings": readings,
        "charts": _charts(page, rows, readings, verdicts, flagged, plan, since, now),
        "actions": [a for a in actions if a.corrected_by is None and not a.retracted],
        "loans": loans,
        "thread": thread,
        "planned": planned,
        "marked_read": marked,
        "message_form_id": new_id(),
        "days": days,
        "periods": PERIODS,
        "now": now,
    }


async def _thread(page: Page, db: AsyncConnection, patient_id: str) -> tuple[list[Any], int]:
    """The patient's messages, oldest first; opening the page is reading them, so the
    patient's unread ones are marked read by this nurse (each audited)."""
    principal = page.principal
    if not principal.allows("Communication", "s"):
        return [], 0
    return await messages.read_thread(db, principal, patient_id, THREAD_SHOWN, utcnow())


async def _planned(page: Page, db: AsyncConnection, patient_id: str) -> list[Any]:
    """The contacts planned with the patient, soonest first (the search is audited)."""
    if not page.principal.allows("Appointment", "s"):
        return []
    found = await contacts.upcoming(db, page.principal, patient_id, utcnow())
    await audit.record_search(
        db,
        page.principal,
        "Appointment",
        [("patient", patient_id)],
        [(c.patient_id, c.centre_id) for c in found],
        requested_patient=patient_id,
    )
    return list(found)


def _patient(resource: dict[str, Any], page: Page, now: datetime) -> dict[str, Any]:
    name = resource["name"][0]
    birth = datetime.fromisoformat(resource["birthDate"]).date()
    today = now.astimezone(page.state.local_zone).date()
    age = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
    return {
        "id": resource["id"],
        "name": f"{' '.join(name.get('given', []))} {name.get('family', '')}".strip(),
        "age": age,
        "birth": birth,
        "sex": resource.get("gender"),
    }


def _readings(
    rows: Any,
    verdicts: Any,
    severities: dict[tuple[str, str], str],
    plan: CarePlanRead | None,
) -> list[ReadingView]:
    """One row per measured value. Its colour is that of the findings about that very
    value (a panel red for its systolic is not red for its diastolic); a judged value
    without one is green, an unjudged one has none."""
    protocol = alerts.load_protocol(plan.protocol) if plan else None
    shown = []
    for row in rows:
        verdict = verdicts.get(row.id)
        late = protocol is not None and is_late(protocol, row.effective_at, row.received_at)
        for part in row.components or ():
            if part.get("value") is None:
                continue
            original = None
            if part.get("original_unit") and part.get("original_unit") != part.get("unit"):
                original = (float(part.get("original_value") or 0), str(part["original_unit"]))
            shown.append(
                ReadingView(
                    at=row.effective_at,
                    measurement=part["measurement"],
                    value=float(part["value"]),
                    unit=str(part.get("unit") or ""),
                    original=original,
                    severity=_severity(row.id, part["measurement"], verdict, severities),
                    late=late,
                    doubtful=bool(row.time_doubtful),
                    time_note=row.time_note,
                )
            )
    return shown


def _bands(plan: CarePlanRead | None, measurement: str) -> svg.Bands:
    band: BandSchema | None = None
    if plan is not None:
        band = plan.effective_bands.get(rule_readings.rule_key(measurement))
    if band is None:
        return svg.Bands()
    return svg.Bands(band.red_low, band.yellow_low, band.yellow_high, band.red_high)


def _severity(
    observation_id: str,
    measurement: str,
    verdict: Any,
    severities: dict[tuple[str, str], str],
) -> str:
    if verdict is None or verdict.severity is None:
        return "none"
    return severities.get((observation_id, measurement), "green")


def _charts(
    page: Page,
    rows: Any,
    readings: list[ReadingView],
    verdicts: Any,
    flagged: set[str | None],
    plan: CarePlanRead | None,
    since: datetime,
    now: datetime,
) -> list[dict[str, Any]]:
    t = page.texts
    ids = {
        (row.effective_at, part["measurement"]): row.id
        for row in rows
        for part in (row.components or ())
    }
    by_measurement: dict[str, list[svg.Point]] = {}
    for r in readings:
        severity = r.severity if r.severity in ("red", "yellow") else "green"
        label = f"{t.datetime(r.at)}: {t.quantity(r.measurement, r.value)}"
        if severity != "green":
            label += f" ({t('severity.' + severity)})"
        by_measurement.setdefault(r.measurement, []).append(
            svg.Point(r.at, r.value, severity, label, ids.get((r.at, r.measurement)) in flagged)
        )
    step = (now - since) / 4
    axis = [(since + step * i, t.date(since + step * i)) for i in range(5)]
    charts = []
    for measurement in sorted(by_measurement):
        points = by_measurement[measurement]
        name = t.measurement(measurement)
        worst = sum(1 for p in points if p.severity == "red")
        summary = t(
            "chart.summary",
            n=len(points),
            red=worst,
            yellow=sum(1 for p in points if p.severity == "yellow"),
        )
        text = svg.ChartText(
            title=t("chart.title", measurement=name, days=(now - since).days),
            summary=summary,
            red=t("chart.red"),
            yellow=t("chart.yellow"),
        )
        chart: Markup = svg.chart(
            f"chart-{measurement}",
            points,
            _bands(plan, measurement),
            since,
            now,
            text,
            axis,
            t.number,
        )
        charts.append({"measurement": measurement, "name": name, "svg": chart, "summary": summary})
    return charts
