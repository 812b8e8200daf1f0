from datetime import UTC, datetime, timedelta

import pytest

from alerts import Band, CarePlan, Direction, Reading, Rule, Severity, evaluate, load_protocol
from alerts.thresholds import band_at, consecutive_required

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def reading(measurement: str, value: float, at: datetime = T0, rid: str | None = None) -> Reading:
    return Reading(
        reading_id=rid or f"{measurement}-{at.isoformat()}",
        measurement=measurement,
        value=value,
        effective_at=at,
        received_at=at + timedelta(minutes=1),
    )


def daily(measurement: str, values: list[float], last: datetime = T0) -> list[Reading]:
    """Readings one day apart, the last at `last`."""
    start = last - (len(values) - 1) * DAY
    return [reading(measurement, v, start + i * DAY, f"d{i}") for i, v in enumerate(values)]


HYPERTENSION = CarePlan(protocol="hypertension")


@pytest.mark.parametrize(
    ("value", "rule", "severity"),
    [
        (89, Rule.THRESHOLD_LOW, Severity.RED),
        (90, Rule.THRESHOLD_LOW, Severity.RED),
        (90.5, None, None),  # yellow, waits for the rule of three
        (100, None, None),
        (159, None, None),
        (179, None, None),  # yellow, waits
        (180, Rule.THRESHOLD_HIGH, Severity.RED),
        (182, Rule.THRESHOLD_HIGH, Severity.RED),
    ],
)
def test_single_reading_red_fires_at_once_yellow_waits(
    value: float, rule: Rule | None, severity: Severity | None
) -> None:
    found = evaluate(HYPERTENSION, [reading("systolic", value)], [], T0)
    assert [(f.rule, f.severity) for f in found] == ([(rule, severity)] if rule else [])


def test_red_reason_names_value_and_limit() -> None:
    (finding,) = evaluate(HYPERTENSION, [reading("systolic", 182, rid="bp")], [], T0)
    assert finding.reason_nb == "Systolisk blodtrykk 182 mmHg er over rød grense 180 mmHg"
    assert finding.reason_en == "Systolic blood pressure 182 mmHg is above the red limit 180 mmHg"
    assert (finding.value, finding.threshold, finding.direction) == (182, 180, Direction.HIGH)
    assert finding.reading_ids == ("bp",)
    assert finding.effective_at == T0
    assert not finding.critical


def test_exactly_on_the_red_limit_says_at() -> None:
    (finding,) = evaluate(HYPERTENSION, [reading("systolic", 180)], [], T0)
    assert finding.reason_nb == "Systolisk blodtrykk 180 mmHg er på rød grense 180 mmHg"
    assert finding.reason_en == "Systolic blood pressure 180 mmHg is at the red limit 180 mmHg"


@pytest.mark.parametrize(
    ("values", "fires"),
    [
        ([165, 165], False),
        ([165, 165, 165], True),
        ([120, 165, 165], False),
        ([165, 120, 165, 165], False),  # a green reading breaks the run
        ([165, 95, 165, 165], False),  # so does a deviation the other way
        ([165, 185, 165], True),  # a red reading counts towards a yellow run
        ([170, 170, 170, 170, 170], True),  # still deviating: fires again for each reading
    ],
)
def test_rule_of_three(values: list[float], fires: bool) -> None:
    *history, new = daily("systolic", values)
    found = evaluate(HYPERTENSION, [new], history, T0)
    assert [f.rule for f in found] == ([Rule.THRESHOLD_HIGH] if fires else [])
    if fires:
        assert found[0].severity is Severity.YELLOW
        assert found[0].reading_ids[0] == new.reading_id


def test_rule_of_three_reason_and_evidence() -> None:
    *history, new = daily("systolic", [120, 162, 165, 170])
    (finding,) = evaluate(HYPERTENSION, [new], history, T0)
    assert finding.reading_ids == ("d3", "d2", "d1")
    assert finding.reason_nb == (
        "Systolisk blodtrykk 170 mmHg er over gul grense 159 mmHg (3 avvikende målinger på rad)"
    )
    assert finding.reason_en == (
        "Systolic blood pressure 170 mmHg is above the yellow limit 159 mmHg "
        "(3 deviating readings in a row)"
    )


def test_a_late_reading_completes_the_run_it_belongs_to() -> None:
    first, second, third = daily("systolic", [165, 165, 165])
    late = Reading(
        reading_id=second.reading_id,
        measurement="systolic",
        value=165,
        effective_at=second.effective_at,
        received_at=T0 + timedelta(hours=1),
    )
    # The middle reading arrives last: the run is complete only now.
    assert evaluate(HYPERTENSION, [third], [first], T0) == []
    (finding,) = evaluate(HYPERTENSION, [late], [first, third], T0 + timedelta(hours=1))
    assert finding.reading_ids == (late.reading_id, third.reading_id, first.reading_id)
    assert finding.late


@pytest.mark.parametrize(
    ("plan_override", "values", "fires"),
    [
        ({"threshold.high": 1}, [165], True),
        ({"threshold.high": 2}, [165, 165], True),
        ({"threshold.high:systolic": 2, "threshold.high": 5}, [165, 165], True),
        ({"threshold.high:diastolic": 1}, [165, 165], False),
        ({"threshold.high": 4}, [165, 165, 165], False),
    ],
)
def test_rule_of_three_override_from_the_plan(
    plan_override: dict[str, int], values: list[float], fires: bool
) -> None:
    plan = CarePlan(protocol="hypertension", consecutive_required=plan_override)
    *history, new = daily("systolic", values)
    assert bool(evaluate(plan, [new], history, T0)) is fires


@pytest.mark.parametrize(
    ("plan_override", "code", "rule", "measurement", "expected"),
    [
        ({}, "hypertension", Rule.THRESHOLD_HIGH, "systolic", 3),
        ({}, "diabetes", Rule.THRESHOLD_LOW, "glucose", 1),
        ({}, "diabetes", Rule.THRESHOLD_HIGH, "glucose", 3),
        ({}, "copd", Rule.THRESHOLD_HIGH, "cat_score", 1),
        ({}, "copd", Rule.SPO2_DROP, "spo2", 2),
        ({}, "hypertension", Rule.SPO2_DROP, "spo2", 1),
        ({"threshold.low": 2}, "diabetes", Rule.THRESHOLD_LOW, "glucose", 2),
        ({"threshold.low:glucose": 2}, "diabetes", Rule.THRESHOLD_LOW, "glucose", 2),
        ({"threshold.low": 5}, "hypertension", Rule.THRESHOLD_LOW, None, 5),
    ],
)
def test_consecutive_required_lookup_order(
    plan_override: dict[str, int],
    code: str,
    rule: Rule,
    measurement: str | None,
    expected: int,
) -> None:
    plan = CarePlan(protocol=code, consecutive_required=plan_override)
    assert consecutive_required(plan, load_protocol(code), rule, measurement) == expected


def test_one_low_glucose_is_enough_for_yellow() -> None:
    (finding,) = evaluate(CarePlan(protocol="diabetes"), [reading("glucose", 3.5)], [], T0)
    assert (finding.rule, finding.severity) == (Rule.THRESHOLD_LOW, Severity.YELLOW)
    assert finding.reason_nb == "Blodsukker 3,5 mmol/L er under gul grense 4 mmol/L"


@pytest.mark.parametrize(
    ("value", "severity", "critical"),
    [
        (2.9, Severity.RED, True),
        (3.0, Severity.RED, True),  # inclusive on purpose
        (3.01, Severity.YELLOW, False),
        (3.99, Severity.YELLOW, False),
        (4.0, None, False),
        (15.0, None, False),
        (20.0, Severity.RED, False),
        (25.0, Severity.RED, True),
    ],
)
def test_diabetes_glucose_limits(value: float, severity: Severity | None, critical: bool) -> None:
    plan = CarePlan(protocol="diabetes", consecutive_required={"threshold.high": 1})
    found = evaluate(plan, [reading("glucose", value)], [], T0)
    assert [(f.severity, f.critical) for f in found] == ([(severity, critical)] if severity else [])


TRIAL_ENDS = T0 + DAY


@pytest.mark.parametrize(
    ("at", "value", "severity"),
    [
        (T0, 86, None),  # trial: default red (<= 85) and yellow (< 88) do not apply
        (T0, 84, None),
        (T0, 83, Severity.RED),  # the safety limit does
        (TRIAL_ENDS, 85, Severity.RED),  # after the trial: the default band
        (TRIAL_ENDS - timedelta(seconds=1), 85, None),
    ],
)
def test_trial_uses_only_the_safety_limits(
    at: datetime, value: float, severity: Severity | None
) -> None:
    plan = CarePlan(protocol="copd", trial_ends_at=TRIAL_ENDS)
    found = evaluate(plan, [reading("spo2", value, at)], [], at)
    assert [f.severity for f in found] == ([severity] if severity else [])


def test_band_at_prefers_personal_then_default_and_clamps_to_safety() -> None:
    copd = load_protocol("copd")
    personal = Band(red_low=80, yellow_low=84)
    plan = CarePlan(protocol="copd", bands={"spo2": personal}, trial_ends_at=T0)
    assert band_at(plan, copd, "spo2", T0 - DAY) == Band(red_low=83)
    assert band_at(plan, copd, "spo2", T0) == Band(red_low=83, yellow_low=84)
    assert band_at(plan, copd, "heart_rate", T0) == copd.bands["heart_rate"]
    assert band_at(plan, copd, "body_weight", T0) is None
    assert band_at(plan, copd, "cat_score", T0 - DAY) is None


def test_personal_band_replaces_the_default() -> None:
    plan = CarePlan(protocol="copd", bands={"spo2": Band(red_low=84, yellow_low=86)})
    assert evaluate(plan, [reading("spo2", 86)], [], T0) == []
    (finding,) = evaluate(plan, [reading("spo2", 84)], [], T0)
    assert (finding.severity, finding.threshold, finding.critical) == (Severity.RED, 84, False)


def test_a_personal_band_cannot_mute_a_critical_value() -> None:
    plan = CarePlan(protocol="copd", bands={"spo2": Band(red_low=70, yellow_low=75)})
    (finding,) = evaluate(plan, [reading("spo2", 83)], [], T0)
    assert (finding.severity, finding.threshold, finding.critical) == (Severity.RED, 83, True)


def test_unbanded_measurement_gives_nothing() -> None:
    assert evaluate(HYPERTENSION, [reading("body_weight", 300)], [], T0) == []
    assert evaluate(HYPERTENSION, [reading("made_up", 1)], [], T0) == []


def test_low_values_say_under_and_below() -> None:
    (finding,) = evaluate(HYPERTENSION, [reading("heart_rate", 38)], [], T0)
    assert finding.reason_nb == "Puls 38/min er under rød grense 40/min"
    assert finding.reason_en == "Heart rate 38/min is below the red limit 40/min"
    assert finding.direction is Direction.LOW


COPD = CarePlan(protocol="copd")


def answer(value: float, at: datetime, rid: str) -> Reading:
    return reading("copd_more_breathless", value, at, rid)


def test_a_yes_two_days_running_is_yellow_and_says_so() -> None:
    monday, tuesday = answer(1, T0 - DAY, "mon"), answer(1, T0, "tue")
    (finding,) = evaluate(COPD, [tuesday], [monday], T0)
    assert (finding.rule, finding.severity) == (Rule.THRESHOLD_HIGH, Severity.YELLOW)
    assert finding.reason_nb.endswith("(2 dager på rad)")
    assert set(finding.reading_ids) == {"mon", "tue"}


def test_two_yes_answers_on_one_day_are_one_day() -> None:
    morning, evening = answer(1, T0, "morning"), answer(1, T0 + timedelta(hours=10), "evening")
    assert evaluate(COPD, [evening], [morning], T0 + timedelta(hours=10)) == []


def test_a_skipped_day_breaks_the_run() -> None:
    monday, wednesday = answer(1, T0 - 2 * DAY, "mon"), answer(1, T0, "wed")
    assert evaluate(COPD, [wednesday], [monday], T0) == []


def test_a_later_no_the_same_day_is_the_days_answer() -> None:
    """The patient corrected themselves: the earlier yes, arriving late, raises nothing."""
    monday = answer(1, T0 - DAY, "mon")
    no, late_yes = answer(0, T0 + timedelta(hours=2), "no"), answer(1, T0, "yes")
    assert evaluate(COPD, [late_yes], [monday, no], T0 + timedelta(hours=3)) == []
