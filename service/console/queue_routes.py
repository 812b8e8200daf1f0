"""The queue page (the console's home), its live row partial and its event stream."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Header, Query, Request
from starlette.responses import Response

import alerts
from service.audit import service as audit
from service.console import views
from service.console.deps import ConsolePage, Page
from service.deps import Db
from service.errors import NotFound
from service.messages import service as messages
from service.models_base import utcnow
from service.queue import events
from service.queue import service as queue
from service.queue.schemas import QueuePolicyRead, QueueRow

router = APIRouter(prefix="/console", include_in_schema=False)

QUEUE_LIMIT = 200
# The sparkline's readings: up to this many of the last 14 days.
SPARK_POINTS = 60
Choice = Annotated[str, Query(max_length=32)]


@dataclass(frozen=True)
class Filters:
    who: str  # "all", "mine", "unclaimed"
    severity: str  # "", "red", "yellow"
    protocol: str  # "" or a protocol code

    @classmethod
    def of(cls, who: str, severity: str, protocol: str) -> Filters:
        return cls(
            who=who if who in ("mine", "unclaimed") else "all",
            severity=severity if severity in ("red", "yellow") else "",
            protocol=protocol if protocol in alerts.available_protocols() else "",
        )

    def query(self) -> str:
        wanted = {"who": self.who, "severity": self.severity, "protocol": self.protocol}
        return urlencode({k: v for k, v in wanted.items() if v and v != "all"})

    def shows(self, item: QueueRow, subject: str) -> bool:
        """Whether a live update's item belongs on this filtered page (the same
        conditions the first load asked the queue for)."""
        if item.state in ("resolved", "snoozed"):
            return False
        if self.who == "mine" and item.claimed_by != subject:
            return False
        if self.who == "unclaimed" and item.state != "open":
            return False
        if self.severity and item.severity != self.severity:
            return False
        return not (self.protocol and item.protocol != self.protocol)


async def _policies(db: Db, page: Page) -> dict[str, QueuePolicyRead]:
    return {c: await queue.read_policy(db, page.principal, c) for c in page.principal.centres}


def _may_work_queue(page: Page) -> bool:
    return page.principal.allows("Task", "r") and bool(page.principal.centres)


@router.get("")
async def queue_page(
    request: Request,
    page: ConsolePage,
    db: Db,
    who: Choice = "all",
    severity: Choice = "",
    protocol: Choice = "",
) -> Response:
    if not _may_work_queue(page):
        return page.render("not_for_role.html", status_code=403)
    filters = Filters.of(who, severity, protocol)
    now = utcnow()
    result = await queue.list_queue(
        db,
        page.principal,
        now,
        page.state.local_zone,
        states=["open"] if filters.who == "unclaimed" else ["open", "claimed"],
        severity=filters.severity or None,
        claimed_by=page.principal.subject if filters.who == "mine" else None,
        protocol=filters.protocol or None,
        limit=QUEUE_LIMIT,
        trend_points=SPARK_POINTS,
    )
    touched = [(i.patient_id, i.centre_id) for i in result.items]
    await audit.record_search(
        db, page.principal, "Task", request.query_params.multi_items(), touched
    )
    policies = await _policies(db, page)
    rows = [views.row_view(i, page.texts, policies, now) for i in result.items]
    return page.render(
        "queue.html",
        waiting=await _waiting_without_item(db, page, {i.patient_id for i in result.items}),
        filters=filters,
        protocols=alerts.available_protocols(),
        truncated=result.truncated,
        total=len(rows),
        **views.as_context(rows),
    )


@router.get("/queue/rows/{item_id}")
async def queue_row(
    item_id: str,
    page: ConsolePage,
    db: Db,
    who: Choice = "all",
    severity: Choice = "",
    protocol: Choice = "",
) -> Response:
    """One row, as the page's first load drew it, for a live update; 204 when the item
    no longer belongs on the page (resolved, snoozed, filtered out, out of reach)."""
    filters = Filters.of(who, severity, protocol)
    now = utcnow()
    try:
        item = await queue.get_item(
            db, page.principal, item_id, now, page.state.local_zone, trend_points=SPARK_POINTS
        )
    except NotFound:
        return Response(status_code=204)
    if not filters.shows(item, page.principal.subject):
        return Response(status_code=204)
    await audit.record(
        db,
        page.principal,
        action=audit.READ,
        subtype="read",
        resource_type="Task",
        resource_id=item.id,
        patient_id=item.patient_id,
        centre_id=item.centre_id,
    )
    row = views.row_view(item, page.texts, await _policies(db, page), now)
    return page.render("partials/queue_row.html", row=row, filters=filters)


@router.get("/queue/events")
async def queue_events(
    request: Request,
    page: ConsolePage,
    last_event_id: Annotated[str | None, Header()] = None,
) -> Response:
    """The API's event stream (``/api/queue/events``), for the session's principal: a
    browser's EventSource cannot send a bearer token."""
    return await events.open_stream(request, page.state.queue_events, page.principal, last_event_id)


async def _waiting_without_item(db: Db, page: Page, shown: set[str]) -> list[Any]:
    """Patients whose messages wait and who have no row on the page (their row shows
    the message itself): a message is never lost for want of a colour."""
    if not page.principal.allows("Communication", "s"):
        return []
    waiting = await messages.waiting_threads(db, page.principal)
    threads = [t for t in waiting if t.patient_id not in shown]
    if not threads:
        return []  # no patient's data was shown: nothing to audit
    await audit.record_search(
        db,
        page.principal,
        "Communication",
        [("waiting", "true")],
        [(t.patient_id, t.centre_id) for t in threads],
    )
    return threads
