"""Trend rules: change against the patient's own earlier readings, not against a band.

A heart-failure patient can gain 2 kg of fluid while every single weight looks normal, and a
COPD patient at 90 % may be fine or may have fallen from 95 %; only the trend tells.
Trends run during the trial period too: they do not depend on the patient's normal values
(the SpO2 drop needs a personal baseline, which a trial patient normally does not have yet).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from alerts import findings
from alerts.careplan import CarePlan
from alerts.model import Direction, Finding, Reading, Rule, Severity
from alerts.protocols import Protocol, Spo2Drop, WeightGain
from alerts.series import run_around, series
from alerts.text import Lang, in_a_row, name, number, quantity
from alerts.thresholds import consecutive_required

# Readings are floats; 81.3 - 79.3 must count as the 2.0 kg it is.
_EPSILON = 1e-9
_FALLBACK_WEIGHT_GAIN = WeightGain(kg=2.0, days=3, severity=Severity.YELLOW)


def weight_gain_rule(plan: CarePlan, protocol: Protocol) -> WeightGain | None:
    """The protocol's rule with the plan's overrides; a plan may switch it on by itself."""
    base = protocol.weight_gain
    if base is None and plan.weight_gain_kg is None and plan.weight_gain_days is None:
        return None
    base = base or _FALLBACK_WEIGHT_GAIN
    return WeightGain(
        kg=plan.weight_gain_kg or base.kg,
        days=plan.weight_gain_days or base.days,
        severity=base.severity,
    )


def spo2_drop_rule(plan: CarePlan, protocol: Protocol) -> Spo2Drop | None:
    """Needs a personal baseline and a drop size, from the plan or the protocol."""
    points = plan.spo2_drop_points
    if points is None and protocol.spo2_drop is not None:
        points = protocol.spo2_drop.points
    if plan.spo2_baseline is None or points is None:
        return None
    severity = protocol.spo2_drop.severity if protocol.spo2_drop else Severity.YELLOW
    return Spo2Drop(points=points, severity=severity)


def weight_gain(
    plan: CarePlan, protocol: Protocol, anchor: Reading, pool: Sequence[Reading]
) -> Finding | None:
    """The largest gain between the anchor and any weighing at most `days` before or after it.

    Looking after it too is what judges a late reading at its own time: a low weight that
    arrives late can complete a gain that the later weighing could not show on its own.
    """
    rule = weight_gain_rule(plan, protocol)
    if rule is None or anchor.measurement != "body_weight":
        return None
    span = timedelta(days=rule.days)
    best: tuple[float, Reading, Reading] | None = None
    for other in series(pool, "body_weight"):
        apart = other.effective_at - anchor.effective_at
        if other.key == anchor.key or apart == timedelta(0) or abs(apart) > span:
            continue
        earlier, later = (other, anchor) if apart < timedelta(0) else (anchor, other)
        gain = later.value - earlier.value
        if best is None or gain > best[0]:
            best = (gain, earlier, later)
    if best is None or best[0] < rule.kg - _EPSILON:
        return None
    gain, earlier, later = best
    return findings.on_reading(
        anchor,
        protocol,
        rule=Rule.WEIGHT_GAIN,
        severity=rule.severity,
        reason=lambda lang: _weight_reason(gain, earlier, later, rule, lang),
        measurement="body_weight",
        direction=Direction.HIGH,
        evidence=(earlier, later),
        value=round(gain, 2),
        threshold=rule.kg,
    )


def spo2_drop(
    plan: CarePlan, protocol: Protocol, anchor: Reading, pool: Sequence[Reading]
) -> Finding | None:
    """SpO2 at or below baseline minus points; waits for the protocol's run (a cold finger)."""
    rule = spo2_drop_rule(plan, protocol)
    if rule is None or plan.spo2_baseline is None or anchor.measurement != "spo2":
        return None
    level = plan.spo2_baseline - rule.points

    def dropped(reading: Reading) -> bool:
        return reading.value <= level + _EPSILON

    needed = consecutive_required(plan, protocol, Rule.SPO2_DROP, "spo2")
    run = run_around(series(pool, "spo2"), anchor, dropped)
    if len(run) < max(needed, 1):
        return None
    baseline = plan.spo2_baseline
    shown_run = len(run) if needed > 1 else 0
    return findings.on_reading(
        anchor,
        protocol,
        rule=Rule.SPO2_DROP,
        severity=rule.severity,
        reason=lambda lang: _spo2_reason(anchor, baseline, rule, shown_run, lang),
        measurement="spo2",
        direction=Direction.LOW,
        evidence=run,
        value=anchor.value,
        threshold=level,
    )


def _weight_reason(
    gain: float, earlier: Reading, later: Reading, rule: WeightGain, lang: Lang
) -> str:
    m = "body_weight"
    if lang == "nb":
        return (
            f"Vekten har økt {quantity(m, gain, lang)} (fra {quantity(m, earlier.value, lang)} "
            f"til {quantity(m, later.value, lang)}) innen {number(rule.days, lang)} dager; "
            f"grense {quantity(m, rule.kg, lang)}"
        )
    return (
        f"Weight has risen {quantity(m, gain, lang)} (from {quantity(m, earlier.value, lang)} "
        f"to {quantity(m, later.value, lang)}) within {number(rule.days, lang)} days; "
        f"limit {quantity(m, rule.kg, lang)}"
    )


def _spo2_reason(anchor: Reading, baseline: float, rule: Spo2Drop, run: int, lang: Lang) -> str:
    drop = number(baseline - anchor.value, lang)
    value = quantity("spo2", anchor.value, lang)
    base = quantity("spo2", baseline, lang)
    limit = number(rule.points, lang)
    if lang == "nb":
        text = (
            f"{name('spo2', lang)} {value} er {drop} prosentpoeng under personlig "
            f"basisverdi {base}; grense {limit} prosentpoeng"
        )
    else:
        text = (
            f"{name('spo2', lang)} {value} is {drop} percentage points below the personal "
            f"baseline {base}; limit {limit} percentage points"
        )
    return text + in_a_row(run, lang) if run else text
