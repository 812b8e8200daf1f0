"""Distributions of the experience answers per stage of follow-up (0 at enrolment, 1 after
three months, ...; ``alerts.experience``), after the small-number rule.

A patient's latest answer in a stage counts once, so a patient who answers twice is not
two voices. Small numbers: a stage with 1 to 4 respondents shows none of its counts; a
count of 1 to 4 is hidden; and where exactly one count of a stage is hidden, the smallest
count shown beside it is hidden too, so the respondents minus the others never gives it
back (as ``service.resource_use.disclosure`` does for the evaluation).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from alerts.experience import EVERY, stage
from service.auth.principal import Principal
from service.errors import ApiError, NotFound
from service.experience import repository
from service.experience.schemas import ExperienceRead, QuestionDistribution, StageDistribution
from service.questionnaires.forms import EXPERIENCE, Form, Forms, translated
from service.resource_use import evaluation_repository
from service.resource_use.evaluation_schemas import SMALL_BELOW
from service.resource_use.periods import local_period

RULE = (
    "A stage with 1 to 4 respondents shows no counts; a count of 1 to 4 is shown as <5; "
    "where exactly one count of a stage is hidden, the smallest count shown beside it is "
    "hidden too, so that no hidden count can be found by subtraction."
)
MAX_DAYS = 3 * 366


async def distributions(
    conn: AsyncConnection,
    principal: Principal,
    forms: Forms,
    centre_id: str,
    first: date,
    last: date,
    zone: ZoneInfo,
    now: datetime,
) -> ExperienceRead:
    if last < first:
        raise ApiError("to: before from")
    if (last - first).days >= MAX_DAYS:
        raise ApiError(f"to: a period is at most {MAX_DAYS} days")
    if await evaluation_repository.centre_of(conn, principal, centre_id) is None:
        raise NotFound("no such centre")
    form = forms.by_id[EXPERIENCE]
    period = local_period(first, last, zone, now)
    rows = await repository.answers(conn, principal, centre_id, form.url, period.start, period.end)
    latest = _latest_per_patient_and_stage(rows)
    questions, hidden = _questions(form, latest)
    return ExperienceRead(
        centre_id=centre_id,
        period_from=first,
        period_to=last,
        generated_at=now,
        questionnaire=form.canonical,
        questions=questions,
        suppressed=sorted(hidden),
        disclosure_rule=RULE,
    )


def _latest_per_patient_and_stage(rows: Sequence[Row[Any]]) -> dict[int, list[dict[str, Any]]]:
    """Stage -> each patient's latest answers in it (rows come oldest first)."""
    by_key: dict[tuple[str, int], dict[str, Any]] = {}
    for row in rows:
        by_key[(row.patient_id, stage(row.enrolled_at, row.authored_at))] = row.answers
    by_stage: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for (_patient, at_stage), answers in by_key.items():
        by_stage[at_stage].append(answers)
    return by_stage


def _questions(
    form: Form, by_stage: dict[int, list[dict[str, Any]]]
) -> tuple[list[QuestionDistribution], set[str]]:
    hidden: set[str] = set()
    questions = []
    for item in form.resource["item"]:
        low, high = _bounds(item)
        stages = []
        for at_stage in sorted(by_stage):
            values = [a[item["linkId"]] for a in by_stage[at_stage] if item["linkId"] in a]
            counts = {str(v): sum(1 for x in values if x == v) for v in range(low, high + 1)}
            shown, hidden_here = disclose(len(values), counts)
            hidden |= {f"{item['linkId']}/{at_stage}/{key}" for key in hidden_here}
            stages.append(
                StageDistribution(
                    stage=at_stage,
                    months_after_enrolment=at_stage * EVERY.days // 30,
                    respondents=None if "respondents" in hidden_here else len(values),
                    counts=shown,
                )
            )
        text = translated(item, "text")
        questions.append(
            QuestionDistribution(
                link_id=item["linkId"],
                text_nb=text["nb"],
                text_en=text.get("en", text["nb"]),
                low=low,
                high=high,
                stages=stages,
            )
        )
    return questions, hidden


def disclose(respondents: int, counts: dict[str, int]) -> tuple[dict[str, int | None], set[str]]:
    """The counts as they may be shown, and which were hidden (``respondents`` too)."""
    if 0 < respondents < SMALL_BELOW:
        return dict.fromkeys(counts), {"respondents", *counts}
    hidden = {key for key, n in counts.items() if 0 < n < SMALL_BELOW}
    if len(hidden) == 1:
        # respondents − the other counts would give it back: hide the smallest other.
        others = sorted((n, key) for key, n in counts.items() if key not in hidden and n > 0)
        if others:
            hidden.add(others[0][1])
    return {key: None if key in hidden else n for key, n in counts.items()}, hidden


def _bounds(item: dict[str, Any]) -> tuple[int, int]:
    found = {e["url"].rsplit("/", 1)[-1]: e.get("valueInteger") for e in item.get("extension", [])}
    return int(found.get("minValue") or 1), int(found.get("maxValue") or 5)
