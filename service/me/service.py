"""The tablet's home screen in one call: today's tasks by the care plan's schedule, the
latest advice with its colour, unread replies, and the latest readings.

The rules of what is due live in ``alerts.due``; this module only gathers what they
need (the plan, when each measurement was last taken, the patient's day in the centre's
time zone) and names each task in the patient's words.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection

import alerts
from alerts.due import due_today
from alerts.experience import experience_due
from alerts.text import FORMS, name
from service.audit import service as audit
from service.auth.principal import Principal
from service.careplans import repository as careplans
from service.careplans.service import to_alerts_plan
from service.centres import repository as centres
from service.contacts import repository as contacts
from service.errors import NotFound
from service.ingest.triage_seam import ReadingJudge
from service.me import repository
from service.me.schemas import AdviceRead, HomeRead, ReadingRead, TaskRead
from service.messages import service as messages
from service.patients import repository as patients
from service.questionnaires.forms import EXPERIENCE, Forms, load_forms
from service.state import AppState

RECENT_READINGS = 10
# The experience form's task is named by this, not by a measurement: nothing is measured.
EXPERIENCE_TASK = "patient_experience"


async def home_read(
    conn: AsyncConnection, principal: Principal, state: AppState, now: datetime
) -> HomeRead:
    """The home screen and its audit record, for the API and the tablet page alike."""
    answer, centre_id = await home(
        conn, principal, state.judge, load_forms(state.settings.fhir_dir), state.local_zone, now
    )
    await audit.record(
        conn,
        principal,
        action=audit.READ,
        subtype="read",
        resource_type="Patient",
        resource_id=answer.patient_id,
        patient_id=answer.patient_id,
        centre_id=centre_id,
    )
    return answer


async def home(
    conn: AsyncConnection,
    principal: Principal,
    judge: ReadingJudge,
    forms: Forms,
    fallback_zone: ZoneInfo,
    now: datetime,
) -> tuple[HomeRead, str]:
    """The home screen, and the patient's centre (for the audit record)."""
    patient = await patients.get_for_readings(conn, principal, principal.subject)
    if patient is None:
        raise NotFound("no such patient")
    centre = await centres.get(conn, patient.centre_id)
    zone = ZoneInfo(centre.time_zone) if centre is not None else fallback_zone
    today = now.astimezone(zone).date()
    day_start = datetime.combine(today, time(0), zone)
    day_end = datetime.combine(today + timedelta(days=1), time(0), zone)
    seen = await repository.last_seen(conn, principal, patient.id)
    plan_row = await careplans.current(conn, patient.id)
    tasks: list[TaskRead] = []
    if plan_row is not None:
        plan = to_alerts_plan(plan_row.protocol, plan_row.settings, patient.status)
        protocol = alerts.load_protocol(plan.protocol)
        due = due_today(plan, protocol, seen, day_start, day_end)
        tasks = [_task(task.measurement, task.done, task.last_at, forms) for task in due]
    if patient.status == "active":
        tasks += await _experience_task(conn, principal, patient, forms, day_start, day_end)
    rows = await repository.recent(conn, principal, patient.id, RECENT_READINGS)
    verdicts = await judge.verdicts(conn, [row._mapping for row in rows])
    planned = await contacts.upcoming(conn, principal, patient.id, now, 1)
    answer = HomeRead(
        patient_id=patient.id,
        today=today,
        time_zone=str(zone),
        follow_up=patient.status,
        tasks=tasks,
        advice=_latest_advice(rows, verdicts),
        unread_messages=await messages.unread_for_patient(conn, patient.id),
        recent_readings=[_reading(row._mapping) for row in rows],
        next_contact=planned[0].planned_at if planned else None,
        next_contact_kind=planned[0].kind if planned else None,
    )
    return answer, patient.centre_id


async def _experience_task(
    conn: AsyncConnection,
    principal: Principal,
    patient: Any,
    forms: Forms,
    day_start: datetime,
    day_end: datetime,
) -> list[TaskRead]:
    """How the patient finds the follow-up: at enrolment and every three months."""
    form = forms.by_id.get(EXPERIENCE)
    if form is None:
        return []
    enrolled = await patients.get_visible(conn, principal, patient.id)
    if enrolled is None:
        return []
    last = await repository.last_answered(conn, principal, patient.id, form.url)
    due, done = experience_due(enrolled.enrolled_at, last, day_start, day_end)
    if not due:
        return []
    title = form.title
    return [
        TaskRead(
            measurement=EXPERIENCE_TASK,
            is_form=True,
            form=form.id,
            title_nb=title["nb"],
            title_en=title.get("en", title["nb"]),
            done=done,
            last_at=last,
        )
    ]


def _task(measurement: str, done: bool, last_at: datetime | None, forms: Forms) -> TaskRead:
    form = _form_of(measurement, forms)
    titles = FORMS.get(measurement)
    title_nb, title_en = titles if titles else (name(measurement, "nb"), name(measurement, "en"))
    return TaskRead(
        measurement=measurement,
        is_form=measurement in FORMS,
        form=form,
        title_nb=title_nb[:1].upper() + title_nb[1:],
        title_en=title_en[:1].upper() + title_en[1:],
        done=done,
        last_at=last_at,
    )


def _form_of(measurement: str, forms: Forms) -> str | None:
    """The Questionnaire whose score or answer is stored as this measurement."""
    for form in forms.all():
        if (
            form.score_measurement == measurement
            or measurement in form.answer_measurements.values()
        ):
            return form.id
    return None


# Readings taken within this long of the latest one are one sitting (a gateway sends the
# oximeter's SpO2 and pulse a few seconds apart): the advice is the sitting's worst.
SITTING = timedelta(minutes=30)
_RANK = {"green": 0, "yellow": 1, "red": 2}


def _latest_advice(rows: Any, verdicts: Mapping[str, Any]) -> AdviceRead | None:
    """The advice of the latest sitting's most worrying reading: a red SpO2 must not be
    hidden behind the green pulse the same oximeter sent a second later."""
    judged = [(row, verdicts[row.id]) for row in rows if verdicts.get(row.id) is not None]
    if not judged:
        return None
    latest = judged[0][0].effective_at
    sitting = [(row, v) for row, v in judged if latest - row.effective_at <= SITTING]
    row, verdict = max(
        sitting, key=lambda pair: (pair[1].critical, _RANK.get(pair[1].severity or "", -1))
    )
    return AdviceRead(
        measurement=row.measurement,
        at=row.effective_at,
        colour=verdict.severity,
        critical=verdict.critical,
        advice_nb=verdict.advice_nb,
        advice_en=verdict.advice_en,
    )


def _reading(row: Mapping[Any, Any]) -> ReadingRead:
    return ReadingRead(
        id=row["id"],
        measurement=row["measurement"],
        value=row["value"],
        unit=row["unit"],
        original_value=row["original_value"],
        original_unit=row["original_unit"],
        components=row["components"],
        effective_at=row["effective_at"],
    )
