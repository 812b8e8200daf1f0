"""The centre page for nurse leaders: today's load and SLA breaches from the queue, and
the evaluation of a chosen period with its charts, the HTML report and the CSV.

Who may see it is the API's rule: a token with ``user/MeasureReport.rs`` (a nurse
leader) or an admin, for a centre of their own; every read is audited as the API's
``/api/evaluation`` is (the centre and the query, no patient).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from markupsafe import Markup
from starlette.responses import Response

from service.audit import service as audit
from service.audit.redact import redact_query
from service.console.deps import ConsolePage, Page
from service.deps import Db
from service.errors import ApiError, NotFound
from service.models_base import utcnow
from service.queue import service as queue
from service.queue import sla
from service.resource_use import evaluation, export, report
from service.resource_use.charts import Series, Value, bar_chart
from service.resource_use.evaluation_schemas import Evaluation

router = APIRouter(prefix="/console/centre", include_in_schema=False)

DEFAULT_DAYS = 30
DateParam = Annotated[date | None, Query()]
CentreParam = Annotated[str, Query(max_length=64)]


def _may_read(page: Page) -> bool:
    return page.principal.allows("MeasureReport", "r") and bool(page.principal.centres)


def _period(first: date | None, last: date | None, page: Page) -> tuple[date, date]:
    today = utcnow().astimezone(page.state.local_zone).date()
    last = last or today
    return first or last - timedelta(days=DEFAULT_DAYS - 1), last


async def _evaluate(
    request: Request, page: Page, db: Db, centre: str, first: date, last: date, subtype: str
) -> Evaluation:
    result = await evaluation.evaluate(
        db,
        page.principal,
        centre,
        first,
        last,
        page.state.local_zone,
        utcnow(),
        min_patient_years=page.state.settings.evaluation_min_patient_years,
    )
    await audit.record(
        db,
        page.principal,
        action=audit.EXECUTE,
        subtype=subtype,
        resource_type="MeasureReport",
        centre_id=centre,
        query=redact_query(request.query_params.multi_items()),
    )
    return result


async def _load(page: Page, db: Db, centre: str) -> dict[str, int] | None:
    """Open items by severity and SLA breaches now, and the items opened this week, for a
    reader of the queue."""
    if not page.principal.allows("Task", "r"):
        return None
    now = utcnow()
    result = await queue.list_queue(
        db,
        page.principal,
        now,
        page.state.local_zone,
        states=["open", "claimed"],
        severity=None,
        claimed_by=None,
        protocol=None,
        limit=500,
    )
    items = [i for i in result.items if i.centre_id == centre]
    policy = await queue.read_policy(db, page.principal, centre)
    standings = [sla.standing(i, policy, now) for i in items]
    counts = Counter(i.severity for i in items)
    await audit.record_search(
        db,
        page.principal,
        "Task",
        [("centre", centre)],
        [(i.patient_id, i.centre_id) for i in items],
    )
    week = await queue.opened_this_week(db, page.principal, centre, now, page.state.local_zone)
    return {
        "red": counts["red"],
        "yellow": counts["yellow"],
        "breaches": sum(1 for s in standings if s is not None and s.breached),
        **{f"week_{kind}": n for kind, n in week.items()},
    }


def _charts(result: Evaluation, page: Page) -> list[tuple[str, Markup]]:
    t = page.texts
    figures = result.overall
    severities = [
        (t(f"severity.{name}"), [Value(f.value, t.shown(f.value))])
        for name, f in sorted(figures.items.by_severity.items())
    ]
    actions = [
        (t(f"action_code.{name}"), [Value(a.minutes, t.shown(a.minutes))])
        for name, a in sorted(figures.nurse_time.by_action.items())
    ]
    series = [Series(t("centre.chart_series"), "#003a70")]
    charts = []
    for chart_id, key, rows in (
        ("chart-items", "centre.chart_items", severities),
        ("chart-minutes", "centre.chart_minutes", actions),
    ):
        drawn = bar_chart(chart_id, t(key), rows, series)  # escapes every text it draws
        charts.append((t(key), Markup(drawn)))  # noqa: S704
    return charts


@router.get("")
async def centre_page(
    request: Request,
    page: ConsolePage,
    db: Db,
    centre: CentreParam = "",
    first: Annotated[date | None, Query(alias="from")] = None,
    last: Annotated[date | None, Query(alias="to")] = None,
) -> Response:
    if not _may_read(page):
        return page.render("not_for_role.html", status_code=403, leader=True)
    centre = centre or page.principal.centres[0]
    first, last = _period(first, last, page)
    try:
        result = await _evaluate(request, page, db, centre, first, last, "operation")
    except NotFound:
        raise
    except ApiError:
        return page.render(
            "centre.html",
            status_code=400,
            centre=centre,
            first=first,
            last=last,
            result=None,
            load=None,
            charts=[],
            error="field.period",
        )
    return page.render(
        "centre.html",
        centre=centre,
        first=first,
        last=last,
        result=result,
        load=await _load(page, db, centre),
        charts=_charts(result, page),
        error=None,
    )


@router.get("/evaluation.csv")
async def evaluation_csv(
    request: Request,
    page: ConsolePage,
    db: Db,
    centre: CentreParam,
    first: Annotated[date, Query(alias="from")],
    last: Annotated[date, Query(alias="to")],
) -> Response:
    if not _may_read(page):
        raise NotFound("no such centre")
    result = await _evaluate(request, page, db, centre, first, last, "export")
    name = f"evaluation-{centre}-{first.isoformat()}-{last.isoformat()}.csv"
    return _download(page, export.csv_text(result), "text/csv", name)


@router.get("/report.html")
async def evaluation_report(
    request: Request,
    page: ConsolePage,
    db: Db,
    centre: CentreParam,
    first: Annotated[date, Query(alias="from")],
    last: Annotated[date, Query(alias="to")],
) -> Response:
    """The same self-contained report as ``dho report``, as a download."""
    if not _may_read(page):
        raise NotFound("no such centre")
    result = await _evaluate(request, page, db, centre, first, last, "export")
    name = f"report-{centre}-{first.isoformat()}-{last.isoformat()}.html"
    body = report.render(result, page.texts.lang)  # type: ignore[arg-type]
    return _download(page, body, "text/html", name)


def _download(page: Page, body: str, media_type: str, name: str) -> Response:
    response = Response(
        body,
        media_type=f"{media_type}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
    page.finish(response)
    return response
