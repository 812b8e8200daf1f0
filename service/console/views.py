"""What a template shows of a queue row: words, formatted numbers and the sparkline.

Only presentation: the order, the findings, the service level and who may do what are
decided by ``service.queue``; this module puts them in the nurse's words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import Markup

from service.console import svg
from service.console.i18n import Texts
from service.queue import sla
from service.queue.schemas import FindingRead, QueuePolicyRead, QueueRow

SEVERITY_RANK = {"red": "0", "yellow": "1", "green": "2"}


@dataclass(frozen=True)
class FindingView:
    text: str
    measurement: str | None
    severity: str
    late: bool


@dataclass(frozen=True)
class RowView:
    item: QueueRow
    rank: str  # sorts the rows of a live page as the queue sorts them
    kind: str  # "clinical" or "technical"
    findings: list[FindingView]
    spark: Markup
    waiting: str
    standing: sla.Standing | None
    protocol: str


def finding_view(finding: FindingRead, texts: Texts) -> FindingView:
    return FindingView(
        text=finding.reason_nb if texts.lang == "nb" else finding.reason_en,
        measurement=finding.measurement,
        severity=finding.severity,
        late=finding.late,
    )


def _deviating(item: QueueRow) -> FindingRead | None:
    """The finding whose measurement the sparkline shows: the worst, then the newest."""
    measured = [f for f in item.findings if f.measurement and f.measurement in item.trends]
    if not measured:
        return None
    return sorted(measured, key=lambda f: (f.severity != "red", -f.effective_at.timestamp()))[0]


def spark_of(item: QueueRow, texts: Texts) -> Markup:
    finding = _deviating(item)
    if finding is None or finding.measurement is None:
        return Markup("")
    trend = item.trends[finding.measurement]
    points = [svg.Point(p.effective_at, p.value) for p in trend]
    if points:
        points[-1] = svg.Point(points[-1].at, points[-1].value, finding.severity)
    values = [p.value for p in trend]
    summary = texts(
        "queue.spark",
        measurement=texts.measurement(finding.measurement),
        n=len(values),
        low=texts.quantity(finding.measurement, min(values)) if values else "",
        high=texts.quantity(finding.measurement, max(values)) if values else "",
        last=texts.quantity(finding.measurement, values[-1]) if values else "",
    )
    return svg.sparkline(points, finding.threshold, summary)


def protocol_name(code: str | None, texts: Texts) -> str:
    return texts(f"protocol.{code}") if code else texts("protocol.none")


def row_view(
    item: QueueRow, texts: Texts, policies: dict[str, QueuePolicyRead], now: datetime
) -> RowView:
    policy = policies.get(item.centre_id)
    return RowView(
        item=item,
        rank=f"{SEVERITY_RANK.get(item.severity, '2')}|{item.waiting_since.isoformat()}|{item.id}",
        kind="technical" if item.technical else "clinical",
        findings=[finding_view(f, texts) for f in item.findings],
        spark=spark_of(item, texts),
        waiting=texts.minutes(item.waiting_minutes),
        standing=sla.standing(item, policy, now) if policy else None,
        protocol=protocol_name(item.protocol, texts),
    )


def as_context(rows: list[RowView]) -> dict[str, Any]:
    return {
        "clinical": [r for r in rows if r.kind == "clinical"],
        "technical": [r for r in rows if r.kind == "technical"],
    }
