"""Forms in the life of a follow-up centre: what the answer rules cost the nurses.

Fourteen days, 13 COPD and 13 heart-failure patients, each answering their protocol's daily
form every morning (COPD: "more breathless than usual?"; heart failure: "breathless lying
flat?") and the COPD patients also the weekly impact form on days 0 and 7. Stable patients
say yes on about one day in ten, at random (a generator seeded by the patient's name, so
the run is the same on both databases): a bad day is common and says little. Two have a
story: a COPD exacerbation (yes on days 9-12, an impact score of 24 on day 7) and a
heart-failure patient who starts sleeping on more pillows (yes on days 10-13).

The answers go through the questionnaire service with the simulated moment as "now"; a
nurse resolves every open item at 10:00 each day, after the morning's answers. So a run of
yes answers on L consecutive days raises L - 1 items (the first yes waits for a second
day), and a score over the band raises one at once. The test derives that expectation
from the answers themselves and checks the service raised exactly those items, each with
the answer in words.

Alert burden (printed with ``pytest -s``): items raised by the answer rules per
patient-week (26 patients x 2 weeks), against the naive rule of one alert per yes answer
or high score.
"""

from __future__ import annotations

import dataclasses
import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from service.careplans import service as careplans
from service.careplans.schemas import StatusChange
from service.ingest.context import ingest_context
from service.questionnaires import service as questionnaires
from service.questionnaires.forms import load_forms
from service.queue import repository as queue_repository
from service.queue import service as queue
from service.queue.schemas import Action, Outcome, ResolveRequest
from service.settings import Settings
from service.state import AppState
from tests.factories import create_centre, enrol, set_care_plan
from tests.questionnaires.test_questionnaire_api import daily_copd, response, weekly_impact
from tests.triage.test_day_in_the_life import (
    backdate_enrolment,
    patient_principal,
    sim_start,
    staff,
)

DAYS = 14
PER_PROTOCOL = 13
YES_RATE = 0.10
IMPACT_DAYS = (0, 7)
ANSWER_MEASUREMENTS = {"copd_more_breathless", "hf_orthopnoea", "cat_score"}


@dataclass(frozen=True)
class Answerer:
    name: str
    protocol: str
    yes_days: frozenset[int]
    impact: dict[int, int]  # day -> the value given to each of the eight impact questions
    morning: timedelta


def cohort() -> list[Answerer]:
    people = [
        Answerer("copd-exacerbation", "copd", frozenset({9, 10, 11, 12}), {0: 2, 7: 3}, _hm(8)),
        Answerer("hf-more-pillows", "heart_failure", frozenset({10, 11, 12, 13}), {}, _hm(8, 5)),
    ]
    for protocol in ("copd", "heart_failure"):
        for n in range(1, PER_PROTOCOL):
            name = f"stable-{protocol}-{n:02d}"
            rng = random.Random(f"dho-forms-in-the-life/{name}")
            yes = frozenset(d for d in range(DAYS) if rng.random() < YES_RATE)
            impact = {d: rng.choice((1, 2)) for d in IMPACT_DAYS} if protocol == "copd" else {}
            people.append(Answerer(name, protocol, yes, impact, _hm(7, 3 * len(people))))
    return people


def _hm(hours: int, minutes: int = 0) -> timedelta:
    return timedelta(hours=hours, minutes=minutes)


def expected_items(person: Answerer) -> int:
    """L - 1 for each run of L consecutive yes days, plus one per impact score over 20."""
    items = sum(1 for each in person.impact.values() if each * 8 > 20)
    for day in person.yes_days:
        if day - 1 in person.yes_days:
            items += 1
    return items


def naive_alerts(person: Answerer) -> int:
    return len(person.yes_days) + sum(1 for each in person.impact.values() if each * 8 > 20)


def daily_heart_failure(patient_id: str, *, lying: bool, authored: datetime) -> dict[str, Any]:
    answers = {"breathless-more": False, "breathless-lying": lying, "ankles-swollen": False}
    items = [{"linkId": link, "answer": [{"valueBoolean": v}]} for link, v in answers.items()]
    items.append({"linkId": "wellbeing", "answer": [{"valueInteger": 7}]})
    return response("heart-failure-daily", patient_id, authored, items)


async def test_fourteen_days_of_daily_forms(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    state: AppState = app.state.dho
    centre = await create_centre(app, settings)
    people = cohort()
    ids: dict[str, str] = {}
    for person in people:
        patient = await enrol(client, settings, centre)
        await set_care_plan(client, patient, person.protocol)
        ids[person.name] = patient.id
    t0 = sim_start()
    await backdate_enrolment(state, centre.id, t0)
    nurse = staff(f"nurse-{centre.id}", centre)
    forms = load_forms(state.settings.fhir_dir)
    try:
        for day in range(DAYS):
            for person in people:
                authored = t0 + timedelta(days=day) + person.morning
                for body in _answers(person, ids[person.name], day, authored):
                    ctx = dataclasses.replace(
                        ingest_context(state), now=authored + timedelta(minutes=1)
                    )
                    async with state.engine.begin() as conn:
                        await questionnaires.create_response(
                            conn,
                            patient_principal(ids[person.name]),
                            body,
                            ctx,
                            forms,
                            raw=json.dumps(body).encode(),
                        )
            await _round(state, nurse, centre.id, t0 + timedelta(days=day, hours=10))
        raised = await _items_by_patient(state, centre.id)
    finally:
        for patient_id in ids.values():
            async with state.engine.begin() as conn:
                await careplans.change_status(
                    conn,
                    nurse,
                    patient_id,
                    StatusChange(status="ended", reason="end of the simulation"),
                    t0 + timedelta(days=DAYS),
                )

    for person in people:
        items = raised.get(ids[person.name], [])
        assert len(items) == expected_items(person), person.name
        for measurements, reasons in items:
            assert measurements <= ANSWER_MEASUREMENTS, (person.name, measurements)
            assert any("svarte ja" in r or "skår" in r.lower() for r in reasons), reasons
    story = raised[ids["copd-exacerbation"]]
    assert any("(2 dager på rad)" in r for _, reasons in story for r in reasons)

    patient_weeks = len(people) * DAYS / 7
    total = sum(len(items) for items in raised.values())
    naive = sum(naive_alerts(p) for p in people)
    print(
        f"\nForms in the life: {len(people)} patients, {DAYS} days, "
        f"{sum(len(p.yes_days) for p in people)} yes answers.\n"
        f"  answer rules: {total} items, {total / patient_weeks:.2f} per patient-week\n"
        f"  naive (an alert per yes or high score): {naive}, "
        f"{naive / patient_weeks:.2f} per patient-week"
    )
    assert total < naive


def _answers(
    person: Answerer, patient_id: str, day: int, authored: datetime
) -> list[dict[str, Any]]:
    yes = day in person.yes_days
    if person.protocol == "heart_failure":
        return [daily_heart_failure(patient_id, lying=yes, authored=authored)]
    bodies = [daily_copd(patient_id, breathless=yes) | {"authored": authored.isoformat()}]
    if day in person.impact:
        bodies.append(weekly_impact(patient_id, person.impact[day], authored))
    return bodies


async def _round(state: AppState, nurse: Any, centre_id: str, now: datetime) -> None:
    """The 10:00 round: every open item of the centre is claimed and resolved."""
    item = queue_repository.item
    async with state.engine.connect() as conn:
        open_ids = (
            await conn.execute(
                sa.select(item.c.id).where(
                    item.c.centre_id == centre_id, item.c.resolved_at.is_(None)
                )
            )
        ).scalars()
        pending = list(open_ids)
    resolution = ResolveRequest(
        outcome=Outcome.handled_by_centre, actions=[Action.phone_call], minutes=5
    )
    for item_id in pending:
        async with state.engine.begin() as conn:
            await queue.claim(conn, nurse, str(item_id), now)
            await queue.resolve(conn, nurse, str(item_id), resolution, now)


async def _items_by_patient(
    state: AppState, centre_id: str
) -> dict[str, list[tuple[set[str], list[str]]]]:
    item, finding = queue_repository.item, queue_repository.finding
    async with state.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(item.c.patient_id, item.c.id, finding.c.measurement, finding.c.reason_nb)
                .join(finding, finding.c.item_id == item.c.id)
                .where(item.c.centre_id == centre_id)
            )
        ).all()
    grouped: dict[str, dict[str, tuple[set[str], list[str]]]] = {}
    for patient_id, item_id, measurement, reason in rows:
        entry = grouped.setdefault(patient_id, {}).setdefault(str(item_id), (set(), []))
        entry[0].add(measurement)
        entry[1].append(reason)
    return {patient: list(items.values()) for patient, items in grouped.items()}
