"""Live triage: the ``ReadingJudge`` that applies ``alerts/`` to every stored reading.

It runs inside the ingest transaction. A reading that nothing judges (the patient has
no care plan, or follow-up is paused) gets a verdict without a colour that says so in
the patient's words: a green "as usual" would reassure someone nobody watches. Ingest
keeps the reason with the reading, so every later read says the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

import alerts
from alerts.replay import HISTORY
from alerts.thresholds import band_at
from service.careplans import repository as careplans
from service.careplans import service as careplan_service
from service.ingest import repository as observations
from service.ingest.models import ENTERED_IN_ERROR
from service.ingest.triage_seam import EvidenceWanted, StoredReading, Verdict
from service.queue import findings as queue_findings
from service.queue import readings as rule_readings
from service.queue import repository, retraction

# At most this many earlier readings as evidence: a week of a heavy home-monitoring
# schedule is under 100; the cap bounds the cost of a device that floods.
HISTORY_ROWS = 60

# Findings of these rules say a value is out of its band; a later in-band value of the same
# measurement is "back in range". Trends and gaps are not undone by one good reading.
_BAND_RULES = {alerts.Rule.THRESHOLD_HIGH, alerts.Rule.THRESHOLD_LOW}


class Triage:
    def evidence_wanted(
        self, subject: Any, readings: Sequence[StoredReading]
    ) -> EvidenceWanted | None:
        if subject is None or subject.plan_version is None:
            return None
        if alerts.reason_for_status(subject.status) is not None:
            return None
        return _evidence_wanted(subject, readings)

    async def judge(
        self,
        conn: AsyncConnection,
        readings: Sequence[StoredReading],
        now: datetime,
        subjects: Mapping[str, Any] | None = None,
        evidence: Mapping[str, Sequence[Any]] | None = None,
    ) -> Mapping[str, Verdict]:
        by_patient: dict[str, list[StoredReading]] = {}
        for reading in readings:
            by_patient.setdefault(reading.patient_id, []).append(reading)
        known = dict(subjects or {})
        unknown = [p for p in by_patient if p not in known]
        if unknown:
            known.update(await careplans.triage_subjects(conn, unknown))
        subjects = known
        verdicts: dict[str, Verdict] = {}
        for patient_id, stored in by_patient.items():
            subject = subjects.get(patient_id)
            if subject is None:
                continue
            if subject.plan_version is None:
                await _no_plan(conn, subject, now)
                verdicts.update(_unjudged(stored, alerts.NotJudged.NO_CARE_PLAN))
                continue
            reason = alerts.reason_for_status(subject.status)
            if reason is not None:
                verdicts.update(_unjudged(stored, reason))
                continue
            prefetched = (evidence or {}).get(patient_id)
            verdicts.update(await _judge_patient(conn, subject, stored, now, prefetched))
        return verdicts

    async def verdicts(
        self, conn: AsyncConnection, rows: Sequence[Mapping[Any, Any]]
    ) -> Mapping[str, Verdict]:
        # A retracted reading has no colour: nothing may be read into it.
        measured = [
            r for r in rows if r["kind"] == "measurement" and r["status"] != ENTERED_IN_ERROR
        ]
        if not measured:
            return {}
        subjects = await careplans.triage_subjects(conn, list({r["patient_id"] for r in measured}))
        found: dict[str, list[Row[Any]]] = {}
        for f in await repository.findings_of_observations(conn, [r["id"] for r in measured]):
            found.setdefault(f.observation_id, []).append(f)
        verdicts = {}
        for row in measured:
            if row.get("not_judged") is not None:
                verdicts[row["id"]] = not_judged_verdict(alerts.NotJudged(row["not_judged"]))
                continue
            subject = subjects.get(row["patient_id"])
            if subject is None or subject.plan_version is None:
                continue
            protocol = alerts.load_protocol(subject.protocol)
            verdicts[row["id"]] = _verdict(protocol, found.get(row["id"], []))
        return verdicts

    async def retracted(
        self, conn: AsyncConnection, row: Mapping[Any, Any], actor: str, now: datetime
    ) -> None:
        await retraction.withdraw(conn, row, actor, now)


def _plan_and_readings(
    subject: Any, stored: Sequence[StoredReading]
) -> tuple[alerts.CarePlan, list[alerts.Reading]]:
    plan = careplan_service.cached_alerts_plan(
        subject.id, subject.plan_version, subject.protocol, subject.settings, subject.status
    )
    new = [
        r
        for s in stored
        for r in rule_readings.to_readings(
            s.observation_id, s.device_id, s.components, s.effective_at, s.received_at
        )
    ]
    return plan, new


def _evidence_wanted(subject: Any, stored: Sequence[StoredReading]) -> EvidenceWanted | None:
    """The earlier readings the rules may rest these readings' verdicts on, or None
    when no rule could use them (``alerts.needs_history``)."""
    plan, new = _plan_and_readings(subject, stored)
    # The back-in-range check of an open item reads the newest reading of each of its
    # measurements, so it needs the history whatever the rules do.
    checks_item = subject.item_id is not None and not subject.item_back_in_range
    if not new or not (checks_item or alerts.needs_history(plan, new)):
        return None
    protocol = alerts.load_protocol(plan.protocol)
    earliest = min(s.effective_at for s in stored)
    latest = max(s.effective_at for s in stored)
    window = timedelta(minutes=protocol.news2.window_minutes)
    return EvidenceWanted(
        patient_id=subject.id,
        measurements=tuple(sorted({s.measurement for s in stored})),
        since=earliest - HISTORY,
        around=(earliest - window, latest + window),
        limit=HISTORY_ROWS,
    )


async def _judge_patient(
    conn: AsyncConnection,
    subject: Row[Any],
    stored: Sequence[StoredReading],
    now: datetime,
    prefetched: Sequence[Any] | None = None,
) -> dict[str, Verdict]:
    """``prefetched``: the rows ``_evidence_wanted`` asks for, read by ingest with the
    readings' insert (then without them: ``alerts.evaluate`` takes the new readings
    with or without their copies in the history)."""
    plan, new = _plan_and_readings(subject, stored)
    protocol = alerts.load_protocol(plan.protocol)
    if not new:
        return {}
    history: list[alerts.Reading] = []
    wanted = _evidence_wanted(subject, stored)
    if wanted is not None:
        rows = prefetched
        if rows is None:
            rows = await observations.triage_evidence(
                conn,
                wanted.patient_id,
                wanted.measurements,
                since=wanted.since,
                around=wanted.around,
                limit=wanted.limit,
            )
        history = [r for row in rows for r in rule_readings.from_row(row)]
    found = alerts.evaluate(plan, new, history, now)
    await queue_findings.record(
        conn,
        queue_findings.Subject(subject.id, subject.centre_id, subject.plan_version),
        found,
        now,
    )
    clinical = [f for f in found if not f.technical]
    if subject.item_id is not None and not subject.item_back_in_range and not clinical:
        await _mark_back_in_range(conn, subject.item_id, plan, protocol, [*history, *new], now)
    by_observation: dict[str, list[alerts.Finding]] = {}
    for finding in found:
        if finding.reading_ids:
            by_observation.setdefault(finding.reading_ids[0], []).append(finding)
    return {
        s.observation_id: _verdict(protocol, by_observation.get(s.observation_id, []))
        for s in stored
    }


async def _no_plan(conn: AsyncConnection, subject: Row[Any], now: datetime) -> None:
    """Readings of a patient without a care plan cannot be judged: the centre gets one
    technical item a day until someone sets the plan, rather than silence."""
    if subject.status != "active":
        return
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    finding = alerts.Finding(
        rule=alerts.Rule.CAREPLAN_MISSING,
        severity=alerts.Severity.YELLOW,
        measurement=None,
        direction=None,
        reading_ids=(),
        reason_nb="Målinger mottatt, men pasienten har ingen behandlingsplan: de vurderes ikke",
        reason_en="Readings received, but the patient has no care plan: they are not triaged",
        technical=True,
        effective_at=day,
    )
    subject_ref = queue_findings.Subject(subject.id, subject.centre_id, None)
    await queue_findings.record(conn, subject_ref, [finding], now)


def not_judged_verdict(reason: alerts.NotJudged) -> Verdict:
    advice = alerts.not_judged_advice(reason)
    return Verdict(None, False, advice.nb, advice.en, not_judged=reason.value)


def _unjudged(stored: Sequence[StoredReading], reason: alerts.NotJudged) -> dict[str, Verdict]:
    verdict = not_judged_verdict(reason)
    return {s.observation_id: verdict for s in stored}


def _verdict(protocol: alerts.Protocol, found: Sequence[Any]) -> Verdict:
    clinical = [f for f in found if not f.technical]
    severity = alerts.Severity.worst(alerts.Severity(f.severity) for f in clinical)
    critical = any(f.critical for f in clinical)
    advice = protocol.advice["critical" if critical else severity.value]
    return Verdict(severity.value, critical, advice.nb, advice.en)


async def _mark_back_in_range(
    conn: AsyncConnection,
    item_id: str,
    plan: alerts.CarePlan,
    protocol: alerts.Protocol,
    readings: Sequence[alerts.Reading],
    now: datetime,
) -> None:
    """An item whose every out-of-band measurement now reads in band again stays for
    the nurse, marked "back in range": it is never closed silently."""
    item_findings = (await repository.findings_of_items(conn, [item_id])).get(item_id, [])
    clinical = [f for f in item_findings if not f.technical and f.withdrawn_at is None]
    if not clinical or any(f.rule not in _BAND_RULES for f in clinical):
        return
    for measurement in {f.measurement for f in clinical}:
        latest = max(
            (r for r in readings if r.measurement == measurement),
            key=lambda r: (r.effective_at, r.received_at),
            default=None,
        )
        band = band_at(plan, protocol, measurement or "", latest.effective_at) if latest else None
        if latest is None or band is None:
            return
        if band.classify(latest.value).severity is not alerts.Severity.GREEN:
            return
    updated = await repository.update_item(
        conn,
        item_id,
        {"back_in_range": True, "updated_at": now},
        where=[repository.UNRESOLVED],
    )
    if updated is not None:
        await repository.add_event(
            conn,
            {
                "centre_id": updated.centre_id,
                "patient_id": updated.patient_id,
                "item_id": item_id,
                "kind": "back_in_range",
                "severity": updated.severity,
                "actor": None,
                "at": now,
            },
        )
