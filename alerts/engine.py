"""The entry points the service calls: judge new readings, and tell the patient what to do.

The service evaluates when a reading is stored and never again for the same reading (the
queue only delivers), so evaluation must be deterministic and must say which evidence each
finding rests on. Replaying a care plan over old readings (a preview) is the same call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from alerts import device, news2, thresholds, trends
from alerts.careplan import CarePlan
from alerts.model import Finding, LocalText, Reading, Severity, require_aware
from alerts.protocols import Protocol, load_protocol
from alerts.series import deduplicate


def evaluate(
    plan: CarePlan,
    new_readings: Sequence[Reading],
    history: Sequence[Reading],
    now: datetime,
    already_fired: Collection[tuple[str, str]] = (),
) -> list[Finding]:
    """Findings for the readings of one incoming Observation, worst first.

    history: the patient's recent readings in any order (it may include the new ones); give
        at least the weight-trend span and the last few readings of each measurement.
    already_fired: (rule, reading_id) pairs recorded from earlier findings; a finding whose
        (rule, reading_ids[0]) is among them is not returned again.

    Each reading is judged at its own effective_at (trial period, runs, trends), so a late
    or out-of-order reading gets the verdict it would have had on time, marked late. Green
    readings give no findings: the service only queues yellow and red. A paused or ended
    plan gives nothing. History readings time-stamped after `now` (beyond the protocol's
    clock tolerance) are not used as evidence: a wrong clock must not shape a trend.

    A blood-pressure panel is one Observation with two readings: when both sides fire the
    same rule they become one finding (the worse one, both reasons), because the pair
    (rule, reading_id) must stay unique.
    """
    require_aware(now, "now")
    if not plan.active:
        return []
    protocol = load_protocol(plan.protocol)
    new_keys = {r.key for r in new_readings}
    horizon = now + timedelta(minutes=protocol.future_tolerance_minutes)
    pool = [
        r
        for r in deduplicate([*history, *new_readings])
        if r.effective_at <= horizon or r.key in new_keys
    ]
    kept = {r.key for r in pool}
    # The caller's order, so a panel's systolic stays ahead of its diastolic when merged.
    anchors: dict[tuple[str, str], Reading] = {}
    for reading in new_readings:
        if reading.key in kept:
            anchors.setdefault(reading.key, reading)
    single_rules = [trends.weight_gain, trends.spo2_drop]
    if protocol.news2.enabled:
        single_rules.append(news2.judge)
    found: list[Finding] = []
    for anchor in anchors.values():
        found += thresholds.judge(plan, protocol, anchor, pool)
        found += [f for rule in single_rules if (f := rule(plan, protocol, anchor, pool))]
        clock = device.wrong_clock(anchor, protocol)
        if clock is not None:
            found.append(clock)
    fired = set(already_fired)
    merged = [f for f in _merge_same_key(found) if f.fired_key not in fired]
    return sorted(_drop_shadowed(merged), key=_order)


def needs_history(plan: CarePlan, new_readings: Sequence[Reading]) -> bool:
    """Whether ``evaluate`` could answer otherwise for these readings with the patient's
    history than without it; when not, the service need not read the history at all.

    History is evidence only for a reading outside its band (runs, and the copy received
    earlier that makes a repeat not judged again), for NEWS2 (a set of readings), for the
    weight-gain and SpO2-drop trends, and for a wrong clock (the copy again). A reading
    inside its band with none of those applying gives no finding, whatever came before.
    """
    if not plan.active:
        return False
    protocol = load_protocol(plan.protocol)
    weight = trends.weight_gain_rule(plan, protocol) is not None
    spo2 = trends.spo2_drop_rule(plan, protocol) is not None
    for reading in new_readings:
        measurement = reading.measurement
        if protocol.news2.enabled and measurement in news2.PARAMETERS:
            return True
        if (measurement == "body_weight" and weight) or (measurement == "spo2" and spo2):
            return True
        band = thresholds.band_at(plan, protocol, measurement, reading.effective_at)
        if band is not None and band.classify(reading.value).direction is not None:
            return True
        if device.wrong_clock(reading, protocol) is not None:
            return True
    return False


def patient_advice(protocol: Protocol, found: Sequence[Finding]) -> LocalText:
    """What to tell the patient after a measurement: the advice for the worst clinical finding.

    Technical findings say nothing about the patient's health and are left out.
    """
    clinical = [f for f in found if not f.technical]
    if any(f.critical for f in clinical):
        return protocol.advice["critical"]
    return protocol.advice[Severity.worst(f.severity for f in clinical).value]


def _merge_same_key(found: Sequence[Finding]) -> list[Finding]:
    groups: dict[object, list[Finding]] = {}
    for finding in found:
        key = finding.fired_key or id(finding)
        groups.setdefault(key, []).append(finding)
    merged = []
    for group in groups.values():
        worst = max(group, key=lambda f: (f.severity.rank, f.critical))
        if len(group) == 1:
            merged.append(worst)
            continue
        ordered = [worst, *(f for f in group if f is not worst)]
        merged.append(
            dataclasses.replace(
                worst,
                reason_nb=_join([f.reason_nb for f in ordered], late=worst.late),
                reason_en=_join([f.reason_en for f in ordered], late=worst.late),
                critical=any(f.critical for f in group),
            )
        )
    return merged


def _join(reasons: Sequence[str], *, late: bool) -> str:
    """One sentence from several reasons on the same reading; its late note only once.

    Findings sharing a key share the anchor reading, so a late note is the same on each.
    """
    tail = reasons[0][reasons[0].rfind(" (") :] if late else ""
    bodies = [r.removesuffix(tail) for r in reasons]
    rest = [b[:1].lower() + b[1:] if b[1:2].islower() else b for b in bodies[1:]]
    return "; ".join(dict.fromkeys([bodies[0], *rest])) + tail


def _drop_shadowed(found: Sequence[Finding]) -> list[Finding]:
    """A yellow on the same reading and measurement as a red adds noise, not information."""
    red = {
        (f.measurement, f.reading_ids[0])
        for f in found
        if f.severity is Severity.RED and f.reading_ids and f.measurement is not None
    }
    return [
        f
        for f in found
        if f.technical
        or f.severity is Severity.RED
        or not f.reading_ids
        or (f.measurement, f.reading_ids[0]) not in red
    ]


def _order(finding: Finding) -> tuple[int, bool, str, str]:
    return (-finding.severity.rank, finding.technical, finding.rule, finding.measurement or "")
