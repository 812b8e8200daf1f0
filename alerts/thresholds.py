"""Threshold rules: one reading against the band that applies at the time it was taken.

Red fires on the single reading: an acute value must never wait. Yellow waits for the rule
of three, because single noisy readings (a cuff put on badly, a cold finger) were the first
complaint of nurses using monitoring systems.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from alerts import findings
from alerts.careplan import CarePlan
from alerts.model import Band, Direction, Finding, Judgement, Reading, Rule, Severity
from alerts.protocols import Protocol
from alerts.series import next_day, one_per_day, run_around, series
from alerts.text import (
    Lang,
    answered_yes,
    colour,
    in_a_row,
    is_daily_answer,
    name,
    quantity,
    relation,
)

# Used when neither the plan nor the protocol says: yellow waits for three, the rest for one.
DEFAULT_CONSECUTIVE = {Rule.THRESHOLD_HIGH: 3, Rule.THRESHOLD_LOW: 3}


def band_at(plan: CarePlan, protocol: Protocol, measurement: str, at: datetime) -> Band | None:
    """The band for a reading taken at `at`.

    During the trial only the protocol's red safety limits apply (the normal values are
    being learnt). After it, the personal band, else the protocol default, with red limits
    never looser than the safety limits. None when nothing applies to this measurement.
    """
    safety = protocol.safety_limits.get(measurement)
    if plan.in_trial(at):
        return safety
    band = plan.bands.get(measurement) or protocol.bands.get(measurement)
    if band is None:
        return safety
    return band if safety is None else band.tightened(safety)


def consecutive_required(
    plan: CarePlan, protocol: Protocol, rule: Rule, measurement: str | None
) -> int:
    """Plan before protocol; "rule:measurement" before "rule"."""
    keys = [str(rule)] if measurement is None else [f"{rule}:{measurement}", str(rule)]
    for source in (plan.consecutive_required, protocol.consecutive_required):
        for key in keys:
            if key in source:
                return source[key]
    return DEFAULT_CONSECUTIVE.get(rule, 1)


def judge(
    plan: CarePlan, protocol: Protocol, anchor: Reading, pool: Sequence[Reading]
) -> list[Finding]:
    measurement = anchor.measurement
    band = band_at(plan, protocol, measurement, anchor.effective_at)
    if band is None:
        return []
    judgement = band.classify(anchor.value)
    if judgement.direction is None or judgement.limit is None:
        return []
    rule = Rule.THRESHOLD_HIGH if judgement.direction is Direction.HIGH else Rule.THRESHOLD_LOW
    safety = protocol.safety_limits.get(measurement)
    critical = safety is not None and safety.classify(anchor.value).severity is Severity.RED
    run: list[Reading] = [anchor]
    needed = 1
    if judgement.severity is Severity.YELLOW:
        needed = consecutive_required(plan, protocol, rule, measurement)
        if needed > 1:

            def deviates(reading: Reading) -> bool:
                return _direction(plan, protocol, reading) is judgement.direction

            if is_daily_answer(measurement):
                days = one_per_day(series(pool, measurement))
                if not any(r.key == anchor.key for r in days):
                    return []  # a later answer the same day is the day's answer
                run = run_around(days, anchor, deviates, adjacent=next_day)
            else:
                run = run_around(series(pool, measurement), anchor, deviates)
            if len(run) < needed:
                return []
    return [
        findings.on_reading(
            anchor,
            protocol,
            rule=rule,
            severity=judgement.severity,
            reason=lambda lang: _reason(anchor, judgement, len(run) if needed > 1 else 0, lang),
            measurement=measurement,
            direction=judgement.direction,
            evidence=run,
            value=anchor.value,
            threshold=judgement.limit,
            critical=critical,
        )
    ]


def _direction(plan: CarePlan, protocol: Protocol, reading: Reading) -> Direction | None:
    """A red reading counts towards a yellow run in its direction: it deviates even more."""
    band = band_at(plan, protocol, reading.measurement, reading.effective_at)
    return None if band is None else band.classify(reading.value).direction


def _reason(anchor: Reading, judgement: Judgement, run: int, lang: Lang) -> str:
    assert judgement.limit is not None
    m = anchor.measurement
    words = answered_yes(m, run, lang)
    if words is not None:
        return words
    beyond = anchor.value != judgement.limit
    high = judgement.direction is Direction.HIGH
    verb = "er" if lang == "nb" else "is"
    the = "" if lang == "nb" else "the "
    limit_word = "grense" if lang == "nb" else "limit"
    text = (
        f"{name(m, lang)} {quantity(m, anchor.value, lang)} {verb} "
        f"{relation(beyond, high, lang)} {the}{colour(judgement.severity, lang)} {limit_word} "
        f"{quantity(m, judgement.limit, lang)}"
    )
    return text + in_a_row(run, lang) if run else text
