from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from alerts import CarePlan, Direction, Finding, Reading, Rule, Severity, evaluate, load_protocol
from alerts.trends import spo2_drop_rule, weight_gain_rule

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)
HEART_FAILURE = CarePlan(protocol="heart_failure")


def reading(
    measurement: str,
    value: float,
    at: datetime,
    rid: str,
    received_at: datetime | None = None,
) -> Reading:
    return Reading(
        reading_id=rid,
        measurement=measurement,
        value=value,
        effective_at=at,
        received_at=received_at or at,
    )


def weight(value: float, at: datetime, rid: str, received_at: datetime | None = None) -> Reading:
    return reading("body_weight", value, at, rid, received_at)


def rules(found: Sequence[Finding]) -> list[str]:
    return [str(f.rule) for f in found]


@pytest.mark.parametrize(
    ("earlier", "later", "apart", "fires"),
    [
        (80.0, 81.9, 3 * DAY, False),
        (80.0, 82.0, 3 * DAY, True),  # 2.0 kg exactly counts
        (79.3, 81.3, 3 * DAY, True),  # and survives float subtraction
        (80.0, 83.5, DAY, True),
        (80.0, 82.0, 3 * DAY + timedelta(minutes=1), False),  # outside the 3 days
        (82.0, 80.0, 3 * DAY, False),  # a loss is not a gain
    ],
)
def test_weight_gain_boundaries(
    earlier: float, later: float, apart: timedelta, fires: bool
) -> None:
    old = weight(earlier, T0 - apart, "old")
    new = weight(later, T0, "new")
    found = evaluate(HEART_FAILURE, [new], [old], T0)
    assert rules(found) == (["trend.weight_gain"] if fires else [])


def test_weight_gain_uses_the_lowest_weight_in_the_span() -> None:
    history = [
        weight(81.0, T0 - 3 * DAY, "d-3"),
        weight(79.5, T0 - 2 * DAY, "d-2"),
        weight(80.5, T0 - DAY, "d-1"),
        weight(78.0, T0 - 4 * DAY, "too-old"),
    ]
    (finding,) = evaluate(HEART_FAILURE, [weight(81.8, T0, "today")], history, T0)
    assert (finding.rule, finding.severity, finding.direction) == (
        Rule.WEIGHT_GAIN,
        Severity.YELLOW,
        Direction.HIGH,
    )
    assert finding.reading_ids == ("today", "d-2")
    assert (finding.value, finding.threshold) == (2.3, 2.0)
    assert finding.reason_nb == (
        "Vekten har økt 2,3 kg (fra 79,5 kg til 81,8 kg) innen 3 dager; grense 2 kg"
    )
    assert finding.reason_en == (
        "Weight has risen 2.3 kg (from 79.5 kg to 81.8 kg) within 3 days; limit 2 kg"
    )


def test_a_late_low_weight_completes_a_gain_already_in_history() -> None:
    later = weight(82.0, T0, "later")
    late_low = weight(79.9, T0 - 2 * DAY, "late", received_at=T0 + timedelta(hours=1))
    (finding,) = evaluate(HEART_FAILURE, [late_low], [later], T0 + timedelta(hours=1))
    assert finding.reading_ids == ("late", "later")
    assert finding.late
    assert finding.reason_en.endswith("(the reading arrived 49 hours after it was taken)")


def test_a_late_reading_is_judged_against_its_own_time_not_now() -> None:
    # Weighed 10 days ago, arrived now: today's weight is outside its 3 days.
    late = weight(78.0, T0 - 10 * DAY, "late", received_at=T0)
    history = [weight(82.0, T0, "today"), weight(78.5, T0 - 11 * DAY, "before")]
    assert evaluate(HEART_FAILURE, [late], history, T0) == []


@pytest.mark.parametrize(
    ("plan", "gain", "apart_days", "fires"),
    [
        (CarePlan(protocol="heart_failure", weight_gain_kg=1.5), 1.5, 3, True),
        (CarePlan(protocol="heart_failure", weight_gain_kg=1.5), 1.4, 3, False),
        (CarePlan(protocol="heart_failure", weight_gain_days=5), 2.0, 5, True),
        (CarePlan(protocol="heart_failure", weight_gain_days=2), 2.0, 3, False),
        (CarePlan(protocol="hypertension"), 5.0, 1, False),  # no weight rule by default
        (CarePlan(protocol="hypertension", weight_gain_kg=2.0), 2.0, 3, True),
        (CarePlan(protocol="copd", weight_gain_days=3), 2.0, 3, True),
    ],
)
def test_weight_gain_overrides(plan: CarePlan, gain: float, apart_days: int, fires: bool) -> None:
    old = weight(80.0, T0 - apart_days * DAY, "old")
    new = weight(80.0 + gain, T0, "new")
    assert rules(evaluate(plan, [new], [old], T0)) == (["trend.weight_gain"] if fires else [])


def test_weight_gain_rule_resolution() -> None:
    hf = load_protocol("heart_failure")
    rule = weight_gain_rule(CarePlan(protocol="heart_failure", weight_gain_kg=3.0), hf)
    assert rule is not None
    assert (rule.kg, rule.days, rule.severity) == (3.0, 3, Severity.YELLOW)
    assert weight_gain_rule(CarePlan(protocol="copd"), load_protocol("copd")) is None


def test_weight_gain_runs_during_the_trial() -> None:
    plan = CarePlan(protocol="heart_failure", trial_ends_at=T0 + 10 * DAY)
    found = evaluate(plan, [weight(82.5, T0, "new")], [weight(80.0, T0 - DAY, "old")], T0)
    assert rules(found) == ["trend.weight_gain"]


def spo2_series(values: list[float]) -> list[Reading]:
    start = T0 - (len(values) - 1) * DAY
    return [reading("spo2", v, start + i * DAY, f"s{i}") for i, v in enumerate(values)]


HF_BASELINE = CarePlan(protocol="heart_failure", spo2_baseline=97, spo2_drop_points=3)


@pytest.mark.parametrize(
    ("values", "fires"),
    [
        ([95, 95], False),  # dropped 2, limit 3
        ([94, 95], False),  # only one of two
        ([94, 94], True),  # dropped exactly 3, twice (the heart-failure protocol wants two)
        ([94, 94.5], False),
    ],
)
def test_spo2_drop_boundaries(values: list[float], fires: bool) -> None:
    *history, new = spo2_series(values)
    found = evaluate(HF_BASELINE, [new], history, T0)
    assert [f.rule for f in found if f.rule == Rule.SPO2_DROP] == (
        [Rule.SPO2_DROP] if fires else []
    )


def test_spo2_drop_reason_and_fields() -> None:
    *history, new = spo2_series([94, 94])
    (finding,) = [
        f for f in evaluate(HF_BASELINE, [new], history, T0) if f.rule == "trend.spo2_drop"
    ]
    assert (finding.severity, finding.direction) == (Severity.YELLOW, Direction.LOW)
    assert (finding.value, finding.threshold) == (94, 94)
    assert finding.reading_ids == ("s1", "s0")
    assert finding.reason_nb == (
        "Oksygenmetning 94 % er 3 prosentpoeng under personlig basisverdi 97 %; "
        "grense 3 prosentpoeng (2 avvikende målinger på rad)"
    )
    assert finding.reason_en == (
        "Oxygen saturation 94% is 3 percentage points below the personal baseline 97%; "
        "limit 3 percentage points (2 deviating readings in a row)"
    )


@pytest.mark.parametrize(
    ("plan", "enabled", "points"),
    [
        (CarePlan(protocol="copd"), False, None),  # no baseline yet
        (CarePlan(protocol="copd", spo2_baseline=92), True, 4),
        (CarePlan(protocol="copd", spo2_baseline=92, spo2_drop_points=2), True, 2),
        (CarePlan(protocol="hypertension", spo2_baseline=96), False, None),
        (CarePlan(protocol="hypertension", spo2_baseline=96, spo2_drop_points=4), True, 4),
    ],
)
def test_spo2_drop_rule_resolution(plan: CarePlan, enabled: bool, points: float | None) -> None:
    rule = spo2_drop_rule(plan, load_protocol(plan.protocol))
    assert (rule is not None) is enabled
    if rule is not None:
        assert (rule.points, rule.severity) == (points, Severity.YELLOW)


def test_one_low_reading_without_a_run_requirement_is_enough() -> None:
    plan = CarePlan(
        protocol="hypertension",
        spo2_baseline=96,
        spo2_drop_points=4,
    )
    (finding,) = evaluate(plan, [reading("spo2", 92, T0, "one")], [], T0)
    assert finding.rule == Rule.SPO2_DROP
    assert "på rad" not in finding.reason_nb
