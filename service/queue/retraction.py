"""Triage after a retraction: what rested on the retracted reading is withdrawn, and the
patient's item is brought in line with the findings that still stand.

Runs inside the transaction that retracts the reading. What we chose, and why:

* A finding anchored on the retracted reading, or resting on it alone, is withdrawn.
* A finding anchored on another reading that also rested on the retracted one (a run
  of three, a weight trend, a NEWS2 set) is judged again by the same rules, with the
  plan version and the readings it was judged on then, less the retracted one (and any
  other retracted reading). Found again with the same severity, it stands unchanged;
  found weaker, it is withdrawn and the weaker finding is stored in its place; not
  found, it is withdrawn. A retraction never raises anything new: it only takes away.
* Withdrawn means marked (``withdrawn_at``, ``withdrawn_for``), never deleted: the
  item's findings and its history still show what was raised and why it went.
* The patient's unresolved item takes the worst severity of its standing findings
  (muted ones raise nothing, as before); with none left it is resolved with outcome
  ``withdrawn``. Each change writes an event, so the live queue hears of it. An item
  already resolved is history and is left as the nurse closed it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

import alerts
from alerts.replay import HISTORY
from service.careplans import repository as careplans
from service.careplans.service import to_alerts_plan
from service.ingest import retraction_repository as observations
from service.ingest.models import ENTERED_IN_ERROR
from service.models_base import new_id
from service.queue import readings as rule_readings
from service.queue import repository
from service.queue import retraction_repository as store
from service.queue.models import WITHDRAWN, ItemState

# A finding's evidence lies within the rules' history of its anchor, either side (a run
# reaches forward too), and a NEWS2 set within its window: a day more covers that.
_REACH = HISTORY + timedelta(days=1)
_EVIDENCE_ROWS = 2000


async def withdraw(
    conn: AsyncConnection, reading: Mapping[str, Any], actor: str, now: datetime
) -> None:
    """Withdraw what rested on ``reading`` (just set to entered-in-error)."""
    if reading["kind"] != "measurement":
        return  # context observations are never evidence
    retracted = reading["id"]
    at = reading["effective_at"]
    near = await store.findings_between(conn, reading["patient_id"], at - _REACH, at + _REACH)
    resting = [f for f in near if retracted in (f.reading_ids or ())]
    withdrawn: list[Row[Any]] = []
    replacements: list[dict[str, Any]] = []
    for found in resting:
        again = None
        if found.observation_id != retracted and set(found.reading_ids) != {retracted}:
            again = await _judge_again(conn, found)
        if again is not None and (again.severity.value, again.critical) == (
            found.severity,
            found.critical,
        ):
            # It stands on the readings that remain, and says so: evidence naming the
            # retracted reading would point a researcher's export at nothing.
            await store.set_evidence(conn, found.id, list(again.reading_ids))
            continue
        withdrawn.append(found)
        if again is not None and again.severity is not alerts.Severity.GREEN:
            replacements.append(_replacement(found, again, retracted, now))
    if not withdrawn:
        return
    await store.withdraw(conn, [f.id for f in withdrawn], retracted, now)
    await repository.insert_findings(conn, replacements)
    for item_id in dict.fromkeys(f.item_id for f in withdrawn if f.item_id is not None):
        await _settle_item(conn, item_id, retracted, [f.id for f in withdrawn], actor, now)


async def _judge_again(conn: AsyncConnection, found: Row[Any]) -> alerts.Finding | None:
    """The finding's rule on its anchor, as judged then, without retracted readings."""
    anchor = await observations.reading(conn, found.observation_id)
    if anchor is None or anchor.status == ENTERED_IN_ERROR or found.care_plan_version is None:
        return None
    plan_row = await careplans.version(conn, found.patient_id, found.care_plan_version)
    if plan_row is None:
        return None
    # Judged as the plan stood, active: a later pause does not undo what was found.
    plan = to_alerts_plan(plan_row.protocol, plan_row.settings, "active")
    at = anchor.effective_at
    rows = await observations.evidence_as_of(
        conn, found.patient_id, (at - _REACH, at + _REACH), found.created_at, _EVIDENCE_ROWS
    )
    history = [r for row in rows for r in rule_readings.from_row(row)]
    new = rule_readings.from_row(anchor)
    for again in alerts.evaluate(plan, new, history, found.created_at):
        if str(again.rule) == found.rule and again.reading_ids[:1] == (found.observation_id,):
            return again
    return None


def _replacement(
    found: Row[Any], again: alerts.Finding, retracted: str, now: datetime
) -> dict[str, Any]:
    """The weaker finding that still stands, in the withdrawn one's place (same item).
    Its anchor names the retraction: the (patient, rule, anchor) key stays unique."""
    return {
        **{k: v for k, v in found._mapping.items() if k not in ("withdrawn_at", "withdrawn_for")},
        "id": new_id(),
        "anchor": f"{found.observation_id}~{retracted}",
        "severity": again.severity.value,
        "critical": again.critical,
        "reading_ids": list(dict.fromkeys(again.reading_ids)),
        "reason_nb": again.reason_nb,
        "reason_en": again.reason_en,
        "value": again.value,
        "threshold": again.threshold,
        "created_at": now,
    }


async def _settle_item(
    conn: AsyncConnection,
    item_id: str,
    retracted: str,
    finding_ids: Sequence[str],
    actor: str,
    now: datetime,
) -> None:
    current = await store.unresolved_item_for_update(conn, item_id)
    if current is None:
        return  # resolved: the nurse's record stays as it was closed
    found = (await repository.findings_of_items(conn, [item_id])).get(item_id, [])
    standing = [f for f in found if f.withdrawn_at is None and not f.snoozed]
    detail = {"observation_id": retracted, "findings": list(finding_ids)}
    if not standing:
        changes: dict[str, Any] = {
            "state": ItemState.resolved.value,
            "outcome": WITHDRAWN,
            "resolved_at": now,
            "resolved_by": actor,
        }
        kind = WITHDRAWN
    else:
        worst = alerts.Severity.worst(alerts.Severity(f.severity) for f in standing)
        changes = {
            "severity": worst.value,
            "critical": any(f.critical for f in standing),
            "technical": all(f.technical for f in standing),
        }
        kind = "lowered" if worst < alerts.Severity(current.severity) else "retracted"
    updated = await repository.update_item(
        conn, item_id, {**changes, "updated_at": now}, where=[repository.UNRESOLVED]
    )
    assert updated is not None  # locked above, unresolved
    await repository.add_event(
        conn,
        {
            "centre_id": updated.centre_id,
            "patient_id": updated.patient_id,
            "item_id": item_id,
            "kind": kind,
            "severity": updated.severity,
            "actor": actor,
            "detail": detail,
            "at": now,
        },
    )
