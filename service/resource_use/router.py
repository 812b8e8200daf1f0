"""Resource use: ``/api/patients/{id}/resource-use``, ``/api/patients/{id}/external-events``,
their corrections, and the centre's evaluation ``/api/evaluation`` (JSON and CSV).

Events outside the service are native resources here, not FHIR ``Encounter``s: what a
municipality reports (a legevakt visit, a level of home-care hours) has few fields, and
a hospital's own Encounter carries far more than the evaluation may keep. Their scopes
are Encounter's, so a later FHIR endpoint needs no new grant.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from service.audit import service as audit
from service.audit.redact import redact_query
from service.auth.deps import (
    EvaluationReader,
    ExternalEventReader,
    ExternalEventReporter,
    ResourceUseLogger,
    ResourceUseReader,
)
from service.auth.principal import Principal
from service.deps import Db, ReadDb, State
from service.experience import service as experience
from service.models_base import utcnow
from service.questionnaires.forms import load_forms
from service.resource_use import evaluation, export, trend
from service.resource_use import service as resource_use
from service.resource_use.evaluation_schemas import Evaluation
from service.resource_use.schemas import (
    ExternalEventCorrection,
    ExternalEventCreate,
    ExternalEventRead,
    ResourceUseCorrection,
    ResourceUseCreate,
    ResourceUseRead,
)
from service.resource_use.trend_schemas import Trend

router = APIRouter(prefix="/api", tags=["Resource use"])

CentreParam = Annotated[str, Query(max_length=64, description="Centre id")]
FromParam = Annotated[date, Query(alias="from", description="First local date, included")]
ToParam = Annotated[date, Query(alias="to", description="Last local date, included")]


@router.post("/patients/{patient_id}/resource-use", status_code=201)
async def log_action(
    patient_id: str, body: ResourceUseCreate, principal: ResourceUseLogger, db: Db, state: State
) -> ResourceUseRead:
    """Log a nurse action that has no queue item (a planned weekly call, the start-up
    home visit). Actions of queue items are logged when the item is resolved."""
    logged = await resource_use.log_action(db, principal, patient_id, body, utcnow(), _skew(state))
    await _record(db, principal, audit.CREATE, "create", "Procedure", logged.id, logged)
    return logged


@router.get("/patients/{patient_id}/resource-use")
async def list_actions(
    request: Request, patient_id: str, principal: ResourceUseReader, db: Db
) -> list[ResourceUseRead]:
    """Every logged row of the patient, corrected ones too (``corrected_by`` names the
    row that replaced it): the history stays readable."""
    centre_id, rows = await resource_use.actions_of(db, principal, patient_id)
    params = request.query_params.multi_items()
    await audit.record_search(db, principal, "Procedure", params, [(patient_id, centre_id)])
    return rows


@router.post(
    "/resource-use/{event_id}/corrections",
    status_code=201,
    responses={409: {"description": "the event is already corrected: correct the newer row"}},
)
async def correct_action(
    event_id: str,
    body: ResourceUseCorrection,
    principal: ResourceUseLogger,
    db: Db,
    state: State,
) -> ResourceUseRead:
    """A new row that replaces ``event_id`` in every figure; the corrected row stays.
    Name what changes, or ``retracted: true`` for an action that never happened."""
    row = await resource_use.correct_action(db, principal, event_id, body, utcnow(), _skew(state))
    await _record(db, principal, audit.UPDATE, "update", "Procedure", event_id, row)
    return row


@router.post(
    "/patients/{patient_id}/external-events",
    status_code=201,
    responses={200: {"description": "a retry: the event with this external_id, as stored"}},
)
async def report_external(
    patient_id: str,
    body: ExternalEventCreate,
    principal: ExternalEventReporter,
    db: Db,
    state: State,
    response: Response,
) -> ExternalEventRead:
    """Report what happened outside the service: a GP contact, a legevakt visit, a
    hospital stay (discharge in ``ended_at``), a KAD or short-term stay, or a level of
    home-care hours per week."""
    row, created = await resource_use.report_external(
        db, principal, patient_id, body, utcnow(), _skew(state)
    )
    if not created:
        response.status_code = 200
    action, subtype = (audit.CREATE, "create") if created else (audit.READ, "read")
    await _record(db, principal, action, subtype, "Encounter", row.id, row)
    return row


@router.get("/patients/{patient_id}/external-events")
async def list_externals(
    request: Request, patient_id: str, principal: ExternalEventReader, db: Db
) -> list[ExternalEventRead]:
    centre_id, rows = await resource_use.externals_of(db, principal, patient_id)
    params = request.query_params.multi_items()
    await audit.record_search(db, principal, "Encounter", params, [(patient_id, centre_id)])
    return rows


@router.post(
    "/external-events/{event_id}/corrections",
    status_code=201,
    responses={409: {"description": "the event is already corrected: correct the newer row"}},
)
async def correct_external(
    event_id: str,
    body: ExternalEventCorrection,
    principal: ExternalEventReporter,
    db: Db,
    state: State,
) -> ExternalEventRead:
    row = await resource_use.correct_external(db, principal, event_id, body, utcnow(), _skew(state))
    await _record(db, principal, audit.UPDATE, "update", "Encounter", event_id, row)
    return row


@router.get("/evaluation", responses={404: {"description": "no such centre within reach"}})
async def read_evaluation(
    request: Request,
    principal: EvaluationReader,
    db: Db,
    source: ReadDb,
    state: State,
    centre: CentreParam,
    first: FromParam,
    last: ToParam,
    disclosure: Annotated[Literal["published", "exact"], Query()] = "published",
) -> Evaluation:
    """The centre's figures for the period, overall, per municipality and per protocol.

    For the centre's nurse leaders (a token with ``user/MeasureReport.rs``) and admins.
    By default as published: every value resting on 1 to 4 patients or events, and any
    that would give one back by subtraction, is null (a figure also ``small``), listed
    in ``suppressed``, as in the CSV, the report and the console. ``disclosure=exact``
    gives the numbers as computed, to the centre's own leaders checking their data
    (the audit record keeps the query); nothing that leaves the centre is made from it.
    """
    result = await evaluation.evaluate(
        source,
        principal,
        centre,
        first,
        last,
        state.local_zone,
        utcnow(),
        exact=disclosure == "exact",
        min_patient_years=state.settings.evaluation_min_patient_years,
    )
    # The query, with its disclosure, is in the audit record.
    await record_evaluation(db, principal, request, centre, "operation")
    return result


@router.get("/evaluation/trend", responses={404: {"description": "no such centre within reach"}})
async def read_trend(
    request: Request,
    principal: EvaluationReader,
    db: Db,
    source: ReadDb,
    state: State,
    centre: CentreParam,
    first: Annotated[str, Query(alias="from", max_length=7, description="First month, YYYY-MM")],
    last: Annotated[str, Query(alias="to", max_length=7, description="Last month, YYYY-MM")],
    municipality: Annotated[str | None, Query(max_length=16)] = None,
    protocol: Annotated[str | None, Query(max_length=64)] = None,
    disclosure: Annotated[Literal["published", "exact"], Query()] = "published",
) -> Trend:
    """The main figures month by month (at most 36 months), for the centre, or one
    municipality or protocol of it: each month exactly as ``/api/evaluation`` gives
    that month alone, and the total as it gives the months together.

    As published, a month's value resting on 1 to 4 patients or events is null (and
    ``small``), and where exactly one month of a figure is hidden beside a total that
    shows, another month is hidden too, so that no hidden month is the total minus the
    others; ``suppressed`` lists them. ``disclosure=exact`` as for ``/api/evaluation``.
    """
    result = await trend.trend(
        source,
        principal,
        centre,
        first,
        last,
        state.local_zone,
        utcnow(),
        municipality=municipality,
        protocol=protocol,
        exact=disclosure == "exact",
        min_patient_years=state.settings.evaluation_min_patient_years,
    )
    await record_evaluation(db, principal, request, centre, "operation")
    return result


@router.get(
    "/evaluation.csv",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        404: {"description": "no such centre within reach"},
    },
)
async def export_evaluation(
    request: Request,
    principal: EvaluationReader,
    db: Db,
    source: ReadDb,
    state: State,
    centre: CentreParam,
    first: FromParam,
    last: ToParam,
) -> Response:
    """The same figures as CSV for a spreadsheet, one row per figure and cohort, then
    the experience form's distributions per stage (``/api/evaluation/experience``), with
    the small-number rules applied: this file leaves the centre."""
    result = await evaluation.evaluate(
        source,
        principal,
        centre,
        first,
        last,
        state.local_zone,
        utcnow(),
        min_patient_years=state.settings.evaluation_min_patient_years,
    )
    said = await experience.distributions(
        source,
        principal,
        load_forms(state.settings.fhir_dir),
        centre,
        first,
        last,
        state.local_zone,
        utcnow(),
    )
    await record_evaluation(db, principal, request, centre, "export")
    name = f"evaluation-{centre}-{first.isoformat()}-{last.isoformat()}.csv"
    return Response(
        export.csv_text(result, said),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _skew(state: State) -> timedelta:
    return timedelta(seconds=state.settings.future_skew_seconds)


async def _record(
    db: AsyncConnection,
    principal: Principal,
    action: str,
    subtype: str,
    resource_type: str,
    resource_id: str,
    row: ResourceUseRead | ExternalEventRead,
) -> None:
    await audit.record(
        db,
        principal,
        action=action,
        subtype=subtype,
        resource_type=resource_type,
        resource_id=resource_id,
        patient_id=row.patient_id,
        centre_id=row.centre_id,
    )


async def record_evaluation(
    db: AsyncConnection, principal: Principal, request: Request, centre_id: str, subtype: str
) -> None:
    """Aggregates name no patient: one record for the centre, with the query."""
    await audit.record(
        db,
        principal,
        action=audit.EXECUTE,
        subtype=subtype,
        resource_type="MeasureReport",
        centre_id=centre_id,
        query=redact_query(request.query_params.multi_items()),
    )
