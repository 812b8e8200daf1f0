"""Answering a form on the tablet: one question per screen, sent as one
QuestionnaireResponse through the API's own service.

The page holds every question of the form; the tablet's script shows one at a time and
steps between them without the network, so a form begun on a shaky connection is
finished and kept on the tablet until it can be sent. Without the script the questions
are one page, and the form still works as a plain post.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter
from starlette.responses import Response

from service.audit import service as audit
from service.deps import admitted_transaction
from service.errors import NotFound
from service.fhirkit.outcome import FhirError
from service.ingest.context import ingest_context
from service.questionnaires import service as responses
from service.questionnaires.forms import Form, load_forms
from service.tablet.deps import Page, TabletForm, TabletPage
from service.tablet.posting import new_key, sent, sent_key, taken_at
from service.tablet.questions import problem_of_refusal, questions, read_answers, response
from service.tablet.readings import Problem

router = APIRouter(prefix="/me", include_in_schema=False)


def _form(page: Page, form_id: str) -> Form:
    form = load_forms(page.state.settings.fhir_dir).by_id.get(form_id)
    if form is None:
        raise NotFound("no such form")
    return form


def _page(
    page: Page, form: Form, key: str, typed: dict[str, str], problems: list[Problem]
) -> Response:
    return page.render(
        "form.html",
        status_code=422 if problems else 200,
        form=form,
        title=form.title,
        asked=questions(form),
        key=key,
        typed=typed,
        problems=problems,
    )


@router.get("/form/{form_id}")
async def form_page(form_id: str, page: TabletPage) -> Response:
    return _page(page, _form(page, form_id), new_key(), {}, [])


@router.post("/form/{form_id}")
async def send_form(form_id: str, posted: TabletForm) -> Response:
    page = posted.page
    form = _form(page, form_id)
    asked = questions(form)
    typed = {q.link: posted.get(q.field)[:40] for q in asked}
    key = sent_key(posted.get("key"))
    answers, problems = read_answers(asked, typed)
    if problems:
        return _page(page, form, key, typed, problems)
    ctx = ingest_context(page.state)
    resource = response(
        form, asked, answers, page.patient_id, key, taken_at(posted.get("taken_at"), ctx.now)
    )
    sent_links = [item["linkId"] for item in resource["item"]]
    try:
        async with admitted_transaction(page.state) as db:
            result = await responses.create_response(
                db,
                page.principal,
                resource,
                ctx,
                load_forms(page.state.settings.fhir_dir),
                raw=orjson.dumps(resource),
            )
            status = 201 if result.created else 200
            await audit.record_row(
                db,
                page.principal,
                audit.CREATE,
                "create",
                "QuestionnaireResponse",
                result.row,
                status,
            )
    except FhirError as error:
        if error.status_code != 422:
            raise
        where = next(iter(error.issues[0].expression), "")
        return _page(page, form, key, typed, [problem_of_refusal(asked, sent_links, where)])
    details: dict[str, Any] = {"form_title": form.title}
    return sent(page, "form", result.verdict, details)
