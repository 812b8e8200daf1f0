"""The demo's month of the centre's work, so a newcomer's first evaluation is not empty.

Over the demo's month each patient has a bad reading or two (``episode``); the centre's
nurse works the item it opens two hours later, the way the centre would (``work_item``):
a phone call, advice, sometimes the GP or an admission, with the minutes it took. Each
patient also has a planned weekly call, a history of hospital stays, legevakt and GP
contacts in the year before enrolment (fewer after), and answers the experience form at
enrolment. All through the services the API uses, with the times they happened.

Deterministic (seeded by the patient's index) and done once per patient: only for a
patient the demo has just enrolled, so running the demo twice adds nothing.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import DEFAULT_SCOPES, Principal, Role
from service.ingest.service import IngestContext
from service.questionnaires import service as responses
from service.questionnaires.forms import EXPERIENCE, Forms
from service.queue import repository as queue_repository
from service.queue import service as queue
from service.queue.schemas import Action, Outcome, ResolveRequest
from service.resource_use import service as resource_use
from service.resource_use.models import ExternalKind
from service.resource_use.schemas import ExternalEventCreate, ResourceUseCreate

# The last days' items stay open: the queue a newcomer opens is not empty either.
OPEN_DAYS = 4
_NO_SKEW = timedelta(0)
_BP = "85354-9"

# Systolic over 180 is red in every protocol; three days over 159 are a yellow run.
RED_SYSTOLIC = (184, 102)
YELLOW_SYSTOLIC = (166, 92)


def nurse(centre_id: str) -> Principal:
    """The centre's demo nurse, as the development login names her."""
    return Principal(
        subject=f"nurse-{centre_id}",
        role=Role.nurse,
        centres=(centre_id,),
        scopes=frozenset(DEFAULT_SCOPES[Role.nurse]),
    )


def municipality_feed(centre_id: str) -> Principal:
    """The municipality's system that reports stays and contacts outside the service."""
    return Principal(
        subject=f"demo-municipality-{centre_id}",
        role=Role.system,
        centres=(centre_id,),
        scopes=frozenset(DEFAULT_SCOPES[Role.system]),
    )


def episode(index: int, day: int, days: int) -> tuple[float, float] | None:
    """The blood pressure that replaces the patient's own on ``day`` (days ago), if any:
    a red once a month for everyone, a yellow run of three days for every third."""
    if day <= OPEN_DAYS:
        return None
    span = days - OPEN_DAYS - 3
    red_day = OPEN_DAYS + 1 + (index * 5) % span
    if day == red_day:
        return RED_SYSTOLIC
    if index % 3 == 0:
        start = OPEN_DAYS + 4 + (index * 7 + 3) % (span - 3)
        if start <= day < start + 3 and day != red_day:
            return YELLOW_SYSTOLIC
    return None


_OUTCOMES: list[tuple[Outcome, list[Action], float]] = [
    (Outcome.handled_by_centre, [Action.reviewed_readings, Action.phone_call], 12),
    (Outcome.handled_by_centre, [Action.phone_call, Action.advice_to_patient], 15),
    (Outcome.no_action_needed, [Action.reviewed_readings], 4),
    (Outcome.referred_to_gp, [Action.phone_call, Action.contact_with_gp], 22),
    (Outcome.measurement_error, [Action.phone_call], 6),
    (Outcome.admitted_to_hospital, [Action.phone_call, Action.referral_emergency], 30),
]


async def work_item(
    conn: AsyncConnection, centre_id: str, patient_id: str, opened: datetime, rng: random.Random
) -> bool:
    """Resolve the patient's open item two hours after its readings; whether one was."""
    item = await queue_repository.unresolved_item(conn, patient_id)
    if item is None:
        return False
    weights = [30, 25, 15, 15, 10, 5]
    outcome, actions, minutes = rng.choices(_OUTCOMES, weights=weights)[0]
    request = ResolveRequest(
        outcome=outcome, actions=actions, minutes=round(minutes * rng.uniform(0.7, 1.4), 0)
    )
    await queue.resolve(conn, nurse(centre_id), item.id, request, opened + timedelta(hours=2))
    return True


async def planned_calls(
    conn: AsyncConnection, centre_id: str, patient_id: str, enrolled: datetime, now: datetime
) -> None:
    """The weekly follow-up call every patient gets, ten minutes or so."""
    when = enrolled + timedelta(days=1, hours=10)
    while when < now:
        body = ResourceUseCreate(action=Action.phone_call, minutes=10, occurred_at=when)
        await resource_use.log_action(conn, nurse(centre_id), patient_id, body, now, _NO_SKEW)
        when += timedelta(days=7)


async def outside_events(
    conn: AsyncConnection,
    centre_id: str,
    patient_id: str,
    index: int,
    enrolled: datetime,
    now: datetime,
    rng: random.Random,
) -> None:
    """Hospital stays, legevakt and GP contacts in the year before enrolment (what made
    the patient a candidate) and, fewer, since."""
    events: list[ExternalEventCreate] = []
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        start = enrolled - timedelta(days=rng.randint(20, 360))
        stay = ExternalEventCreate(
            kind=ExternalKind.hospital_stay,
            started_at=start,
            ended_at=start + timedelta(days=rng.randint(2, 9)),
        )
        events.append(stay)
    for kind, before, after in (
        (ExternalKind.emergency_primary_care, rng.randint(0, 4), rng.choice([0, 0, 0, 0, 1])),
        (ExternalKind.gp_contact, rng.randint(2, 8), rng.choice([0, 0, 0, 1])),
    ):
        for _ in range(before):
            start = enrolled - timedelta(days=rng.randint(5, 360))
            events.append(ExternalEventCreate(kind=kind, started_at=start))
        for _ in range(after):
            start = enrolled + timedelta(days=rng.randint(2, max(3, (now - enrolled).days - 1)))
            events.append(ExternalEventCreate(kind=kind, started_at=min(start, now)))
    feed = municipality_feed(centre_id)
    for number, event in enumerate(events):
        body = event.model_copy(update={"external_id": f"demo-{index:02d}-{number:02d}"})
        await resource_use.report_external(conn, feed, patient_id, body, now, _NO_SKEW)


async def experience_at_enrolment(
    conn: AsyncConnection,
    patient: Principal,
    patient_id: str,
    forms: Forms,
    ctx: IngestContext,
    answered: datetime,
    rng: random.Random,
) -> None:
    """How the patient found the start: mostly safe and coping, most would recommend."""
    form = forms.by_id[EXPERIENCE]
    values = {
        "security": rng.choice([3, 4, 4, 5, 5]),
        "coping": rng.choice([2, 3, 3, 4, 4, 5]),
        "ease-of-use": rng.choice([3, 4, 5, 5]),
        "recommend": rng.choice([4, 4, 5, 5, 5]),
    }
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": form.canonical,
        "status": "completed",
        "subject": {"reference": f"Patient/{patient_id}"},
        "authored": answered.isoformat(),
        "item": [{"linkId": k, "answer": [{"valueInteger": v}]} for k, v in values.items()],
    }
    await responses.create_response(conn, patient, resource, ctx, forms, raw=orjson.dumps(resource))
