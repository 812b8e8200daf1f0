"""``/api/evaluation/experience``: what patients say about the follow-up, for the
centre's nurse leaders and admins (the evaluation's scope), after the small-number rule."""

from __future__ import annotations

from fastapi import APIRouter, Request

from service.auth.deps import EvaluationReader
from service.deps import Db, ReadDb, State
from service.experience import service as experience
from service.experience.schemas import ExperienceRead
from service.models_base import utcnow
from service.questionnaires.forms import load_forms
from service.resource_use.router import CentreParam, FromParam, ToParam, record_evaluation

router = APIRouter(prefix="/api", tags=["Resource use"])


@router.get(
    "/evaluation/experience", responses={404: {"description": "no such centre within reach"}}
)
async def read_experience(
    request: Request,
    principal: EvaluationReader,
    db: Db,
    source: ReadDb,
    state: State,
    centre: CentreParam,
    first: FromParam,
    last: ToParam,
) -> ExperienceRead:
    """Answers to the experience form (security at home, coping, ease of use, would
    recommend; 1 to 5) answered in the period, per stage of follow-up (at enrolment,
    after 3, 6, ... months): each patient's latest answer in a stage counts once. Counts
    of 1 to 4, and any that would give one back by subtraction, are null and listed in
    ``suppressed``."""
    answer = await experience.distributions(
        source,
        principal,
        load_forms(state.settings.fhir_dir),
        centre,
        first,
        last,
        state.local_zone,
        utcnow(),
    )
    await record_evaluation(db, principal, request, centre, "operation")
    return answer
