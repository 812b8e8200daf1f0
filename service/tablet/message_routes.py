"""The patient's messages with their centre: the thread, and a new message written as a
plain form post (kept on the tablet and resent if the connection drops).

The page builds the FHIR ``Communication`` the API receives and hands it to the
messages service, so length limits and idempotency are the API's.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from service.audit import service as audit
from service.deps import Db
from service.fhirkit.outcome import FhirError
from service.messages import service as messages
from service.models_base import utcnow
from service.tablet.deps import Page, TabletForm, TabletPage
from service.tablet.posting import new_key, sent_key
from service.tablet.readings import Problem

router = APIRouter(prefix="/me", include_in_schema=False)

THREAD_SHOWN = 50
IDENTIFIER_SYSTEM = "https://fhir.dho.example/identifier/tablet-message"


async def _thread_page(
    page: Page,
    db: Db,
    *,
    key: str | None = None,
    text: str = "",
    problems: list[Problem] | None = None,
    sent: bool = False,
) -> Response:
    """The thread, and the form to write; a refused message keeps its key and words."""
    rows, _marked = await messages.read_thread(
        db, page.principal, page.patient_id, THREAD_SHOWN, utcnow()
    )
    return page.render(
        "messages.html",
        status_code=422 if problems else 200,
        thread=rows,
        key=key or new_key(),
        text=text,
        problems=problems or [],
        sent=sent,
        max_chars=page.state.settings.message_text_max_chars,
    )


@router.get("/messages")
async def thread(page: TabletPage, db: Db, sent: bool = False) -> Response:
    return await _thread_page(page, db, sent=sent)


@router.post("/messages")
async def write(form: TabletForm, db: Db) -> Response:
    page = form.page
    text = form.get("text")
    key = sent_key(form.get("key"))
    if not text:
        return await _thread_page(
            page, db, key=key, problems=[Problem("text", "me.messages.error.empty", {})]
        )
    resource: dict[str, Any] = {
        "resourceType": "Communication",
        "status": "completed",
        "identifier": [{"system": IDENTIFIER_SYSTEM, "value": key}],
        "subject": {"reference": f"Patient/{page.patient_id}"},
        "payload": [{"contentString": text}],
    }
    settings, now = page.state.settings, utcnow()
    try:
        result = await messages.send_resource(db, page.principal, resource, settings, now)
    except FhirError as error:
        if error.status_code != 422:
            raise
        problem = Problem(
            "text", "me.messages.error.too_long", {"n": settings.message_text_max_chars}
        )
        return await _thread_page(page, db, key=key, text=text, problems=[problem])
    status = 201 if result.created else 200
    await audit.record_row(
        db, page.principal, audit.CREATE, "create", "Communication", result.row, status
    )
    return page.redirect("/me/messages?sent=true")
