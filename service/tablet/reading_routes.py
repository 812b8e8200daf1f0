"""Entering a reading by hand: one page per measurement, sent through the API's ingest.

A number that is not a number is caught here (input, not a rule); a number outside what
the catalogue accepts is refused by ingest, and the page says so with the catalogue's
range. The answer page shows the triage verdict's advice in the patient's words.
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter
from starlette.responses import Response

from service.audit import service as audit
from service.deps import admitted_transaction
from service.errors import NotFound
from service.fhirkit.outcome import FhirError
from service.ingest import service as ingest
from service.ingest.context import ingest_context
from service.tablet.deps import Page, TabletForm, TabletPage
from service.tablet.posting import new_key, sent, sent_key, taken_at
from service.tablet.readings import (
    ENTRIES,
    Entry,
    Problem,
    observation,
    range_problem,
    read_values,
)

router = APIRouter(prefix="/me", include_in_schema=False)


def _entry(measurement: str) -> Entry:
    entry = ENTRIES.get(measurement)
    if entry is None:
        raise NotFound("no such measurement to enter by hand")
    return entry


def _form(
    page: Page, entry: Entry, key: str, typed: dict[str, str], problems: list[Problem]
) -> Response:
    catalogue = page.state.catalogue
    return page.render(
        "reading.html",
        status_code=422 if problems else 200,
        entry=entry,
        ranges={f.measurement: catalogue.by_key[f.measurement] for f in entry.fields},
        key=key,
        typed=typed,
        problems=problems,
    )


@router.get("/reading/{measurement}")
async def reading_form(measurement: str, page: TabletPage) -> Response:
    return _form(page, _entry(measurement), new_key(), {}, [])


@router.post("/reading/{measurement}")
async def send_reading(measurement: str, form: TabletForm) -> Response:
    page, entry = form.page, _entry(measurement)
    typed = {f.measurement: form.get(f.measurement)[:20] for f in entry.fields}
    key = sent_key(form.get("key"))
    values, problems = read_values(entry, typed)
    if problems:
        return _form(page, entry, key, typed, problems)
    ctx = ingest_context(page.state)
    resource = observation(
        ctx.catalogue,
        entry,
        values,
        page.patient_id,
        key,
        taken_at(form.get("taken_at"), ctx.now),
    )
    try:
        async with admitted_transaction(page.state) as db:
            result = await ingest.create_observation(
                db, page.principal, resource, ctx, raw=orjson.dumps(resource)
            )
            status = 201 if result.created else 200
            await audit.record_row(
                db, page.principal, audit.CREATE, "create", "Observation", result.row, status
            )
    except FhirError as error:
        if error.status_code != 422 or error.issues[0].code != "value":
            raise
        expression = next(iter(error.issues[0].expression), None)
        return _form(page, entry, key, typed, [range_problem(ctx.catalogue, entry, expression)])
    return sent(page, "reading", result.verdict, {"measurement": entry.measurement})
