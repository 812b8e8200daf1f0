from datetime import UTC, datetime, timedelta

import pytest

from alerts import CarePlan, News2, Reading, Rule, Severity, evaluate, news2_score

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)

# A set scoring 0 on every parameter.
NORMAL = {
    "respiratory_rate": 16.0,
    "spo2": 97.0,
    "systolic": 130.0,
    "heart_rate": 70.0,
    "body_temperature": 37.0,
}


def score(values: dict[str, float], *, on_oxygen: bool = False, alert: bool = True) -> News2:
    return news2_score(
        respiratory_rate=values["respiratory_rate"],
        spo2=values["spo2"],
        systolic=values["systolic"],
        heart_rate=values["heart_rate"],
        body_temperature=values["body_temperature"],
        on_oxygen=on_oxygen,
        alert=alert,
    )


def score_with(parameter: str, value: float, *, scale: int = 1, on_oxygen: bool = False) -> int:
    values = {**NORMAL, parameter: value}
    if scale == 2 and parameter != "spo2":
        values["spo2"] = 90.0
    return news2_score(
        respiratory_rate=values["respiratory_rate"],
        spo2=values["spo2"],
        systolic=values["systolic"],
        heart_rate=values["heart_rate"],
        body_temperature=values["body_temperature"],
        spo2_scale=scale,
        on_oxygen=on_oxygen,
    ).points[parameter]


@pytest.mark.parametrize(
    ("value", "points"),
    [(8, 3), (9, 1), (11, 1), (11.5, 0), (12, 0), (20, 0), (21, 2), (24, 2), (25, 3), (40, 3)],
)
def test_respiratory_rate(value: float, points: int) -> None:
    assert score_with("respiratory_rate", value) == points


@pytest.mark.parametrize(
    ("value", "points"),
    [(85, 3), (91, 3), (91.5, 2), (92, 2), (93, 2), (94, 1), (95, 1), (95.5, 0), (96, 0), (100, 0)],
)
def test_spo2_scale_1(value: float, points: int) -> None:
    assert score_with("spo2", value) == points


@pytest.mark.parametrize(
    ("value", "on_oxygen", "points"),
    [
        (83, False, 3),
        (84, False, 2),
        (85, False, 2),
        (86, False, 1),
        (87, False, 1),
        (88, False, 0),
        (92, False, 0),
        (93, False, 0),  # on air, 93 or more scores 0
        (99, False, 0),
        (92, True, 0),
        (93, True, 1),  # on oxygen, over the target scores
        (94, True, 1),
        (95, True, 2),
        (96, True, 2),
        (97, True, 3),
        (85, True, 2),
    ],
)
def test_spo2_scale_2(value: float, on_oxygen: bool, points: int) -> None:
    assert score_with("spo2", value, scale=2, on_oxygen=on_oxygen) == points


@pytest.mark.parametrize(
    ("value", "points"),
    [(90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3)],
)
def test_systolic(value: float, points: int) -> None:
    assert score_with("systolic", value) == points


@pytest.mark.parametrize(
    ("value", "points"),
    [
        (40, 3),
        (41, 1),
        (50, 1),
        (51, 0),
        (90, 0),
        (90.5, 1),
        (91, 1),
        (110, 1),
        (111, 2),
        (130, 2),
        (131, 3),
    ],
)
def test_pulse(value: float, points: int) -> None:
    assert score_with("heart_rate", value) == points


@pytest.mark.parametrize(
    ("value", "points"),
    [
        (35.0, 3),
        (35.05, 1),
        (35.1, 1),
        (36.0, 1),
        (36.1, 0),
        (38.0, 0),
        (38.1, 1),
        (39.0, 1),
        (39.1, 2),
        (41.0, 2),
    ],
)
def test_temperature(value: float, points: int) -> None:
    assert score_with("body_temperature", value) == points


@pytest.mark.parametrize(
    ("on_oxygen", "alert", "total", "risk"),
    [
        (False, True, 0, "low"),
        (True, True, 2, "low"),
        (False, False, 3, "low-medium"),
        (True, False, 5, "medium"),
    ],
)
def test_oxygen_and_consciousness(on_oxygen: bool, alert: bool, total: int, risk: str) -> None:
    result = score(NORMAL, on_oxygen=on_oxygen, alert=alert)
    assert (result.total, result.risk) == (total, risk)


RR, HR = "respiratory_rate", "heart_rate"


@pytest.mark.parametrize(
    ("changes", "total", "risk", "threes"),
    [
        ({}, 0, "low", ()),
        ({HR: 95, "body_temperature": 38.5}, 2, "low", ()),
        ({HR: 131}, 3, "low-medium", (HR,)),
        ({HR: 115, RR: 22, "spo2": 95}, 5, "medium", ()),
        ({HR: 115, RR: 25, "spo2": 95}, 6, "medium", (RR,)),
        ({HR: 131, RR: 25, "spo2": 95}, 7, "high", (RR, HR)),
    ],
)
def test_totals_and_risk(
    changes: dict[str, float], total: int, risk: str, threes: tuple[str, ...]
) -> None:
    result = score({**NORMAL, **changes})
    assert (result.total, result.risk, result.threes) == (total, risk, threes)


def test_scale_must_be_1_or_2() -> None:
    with pytest.raises(ValueError, match="spo2_scale"):
        news2_score(
            respiratory_rate=16,
            spo2=97,
            systolic=130,
            heart_rate=70,
            body_temperature=37,
            spo2_scale=3,
        )


def vital_signs(
    values: dict[str, float], at: datetime = T0, *, on_oxygen: bool = False, offset_min: int = 0
) -> list[Reading]:
    """One reading per parameter, the i-th taken i * offset_min minutes before `at`."""
    readings = []
    for i, (measurement, value) in enumerate(values.items()):
        taken = at - timedelta(minutes=i * offset_min)
        readings.append(
            Reading(
                reading_id=f"v-{measurement}",
                measurement=measurement,
                value=value,
                effective_at=taken,
                received_at=taken,
                on_oxygen=on_oxygen and measurement == "spo2",
            )
        )
    return readings


HEART_FAILURE = CarePlan(protocol="heart_failure")
COPD = CarePlan(protocol="copd")
# Scores 5 on scale 1 without any single 3 and without any threshold finding of its own.
FIVE = {**NORMAL, "heart_rate": 95.0, "respiratory_rate": 21.0, "spo2": 95.0, "systolic": 108.0}


def news2_findings(plan: CarePlan, readings: list[Reading], new: Reading) -> list[Rule]:
    found = evaluate(plan, [new], readings, T0 + timedelta(hours=2))
    return [f.rule for f in found if f.rule.startswith("news2")]


def test_aggregate_of_five_is_red() -> None:
    readings = vital_signs(FIVE)
    found = evaluate(HEART_FAILURE, [readings[0]], readings, T0)
    (finding,) = [f for f in found if f.rule == Rule.NEWS2_AGGREGATE]
    assert (finding.severity, finding.value, finding.threshold) == (Severity.RED, 5, 5)
    assert not finding.critical
    assert finding.measurement is None
    assert set(finding.reading_ids) == {r.reading_id for r in readings}
    assert finding.reason_nb.startswith("NEWS2-skår 5 er på rød grense 5 (respirasjonsfrekvens")
    assert finding.reason_en.startswith("NEWS2 score 5 is at the red limit 5 (respiratory rate")


def test_single_parameter_three_is_red_below_five() -> None:
    readings = vital_signs({**NORMAL, "respiratory_rate": 25.0})
    found = evaluate(HEART_FAILURE, [readings[0]], readings, T0)
    single = [f for f in found if f.rule == Rule.NEWS2_SINGLE_PARAMETER]
    assert len(single) == 1
    assert single[0].measurement == "respiratory_rate"
    assert (
        single[0].reason_nb == "NEWS2: respirasjonsfrekvens 25/min gir 3 poeng alene (totalskår 3)"
    )
    assert (
        single[0].reason_en == "NEWS2: respiratory rate 25/min scores 3 on its own (total score 3)"
    )


def test_seven_or_more_is_critical_and_one_finding_per_set() -> None:
    readings = vital_signs({**NORMAL, "heart_rate": 131.0, "respiratory_rate": 25.0, "spo2": 95.0})
    found = evaluate(HEART_FAILURE, [readings[0]], readings, T0)
    news = [f for f in found if f.rule.startswith("news2")]
    assert [(f.rule, f.critical) for f in news] == [(Rule.NEWS2_AGGREGATE, True)]


@pytest.mark.parametrize(
    ("offset_min", "scored"),
    [(0, True), (15, True), (60, False)],  # 4 readings back: 0, 60, 180 min from the first
)
def test_readings_must_fall_within_the_window(offset_min: int, scored: bool) -> None:
    readings = vital_signs(FIVE, offset_min=offset_min)
    assert bool(news2_findings(HEART_FAILURE, readings, readings[0])) is scored


@pytest.mark.parametrize(
    ("minutes", "scored"), [(-60, True), (60, True), (61, False), (-61, False)]
)
def test_window_edge_is_inclusive(minutes: int, scored: bool) -> None:
    readings = vital_signs(FIVE)
    moved = readings[1]
    readings[1] = Reading(
        reading_id=moved.reading_id,
        measurement=moved.measurement,
        value=moved.value,
        effective_at=T0 + timedelta(minutes=minutes),
        received_at=T0 + timedelta(minutes=max(minutes, 0)),
    )
    assert bool(news2_findings(HEART_FAILURE, readings, readings[0])) is scored


def test_an_incomplete_set_is_not_scored() -> None:
    readings = vital_signs(FIVE)[:-1]
    assert news2_findings(HEART_FAILURE, readings, readings[0]) == []


def test_nearest_reading_per_parameter_is_used() -> None:
    readings = vital_signs(FIVE)
    calm_pulse = Reading(
        reading_id="calm",
        measurement="heart_rate",
        value=70,
        effective_at=T0 - timedelta(minutes=50),
        received_at=T0 - timedelta(minutes=50),
    )
    fast = Reading(
        reading_id="fast",
        measurement="heart_rate",
        value=95,
        effective_at=T0 - timedelta(minutes=5),
        received_at=T0 - timedelta(minutes=5),
    )
    others = [r for r in readings if r.measurement != "heart_rate"]
    assert news2_findings(HEART_FAILURE, [*others, calm_pulse, fast], others[0]) == [
        Rule.NEWS2_AGGREGATE
    ]
    assert news2_findings(HEART_FAILURE, [*others, calm_pulse], others[0]) == []


def test_copd_uses_scale_2_and_the_plan_may_switch_to_scale_1() -> None:
    readings = vital_signs({**NORMAL, "spo2": 89.0})
    assert news2_findings(COPD, readings, readings[0]) == []
    scale_1 = CarePlan(protocol="copd", spo2_scale=1)
    assert news2_findings(scale_1, readings, readings[0]) == [Rule.NEWS2_SINGLE_PARAMETER]


def test_copd_on_oxygen_over_target_scores() -> None:
    readings = vital_signs({**NORMAL, "spo2": 97.0}, on_oxygen=True)
    found = evaluate(COPD, [readings[0]], readings, T0)
    (finding,) = [f for f in found if f.rule.startswith("news2")]
    assert finding.rule == Rule.NEWS2_AGGREGATE  # 3 (SpO2) + 2 (oxygen)
    assert "oksygentilskudd: 2" in finding.reason_nb
    assert "SpO2 scale 2" in finding.reason_en


def test_news2_is_off_where_the_protocol_says_so() -> None:
    readings = vital_signs(FIVE)
    assert news2_findings(CarePlan(protocol="hypertension"), readings, readings[0]) == []


def test_each_reading_of_one_set_gives_the_same_anchor() -> None:
    readings = vital_signs(FIVE, offset_min=1)
    keys = set()
    for new in readings:
        for f in evaluate(HEART_FAILURE, [new], readings, T0):
            if f.rule.startswith("news2"):
                keys.add(f.fired_key)
    assert keys == {("news2.aggregate", "v-respiratory_rate")}  # the newest reading
    already = {("news2.aggregate", "v-respiratory_rate")}
    assert not [
        f
        for f in evaluate(HEART_FAILURE, [readings[2]], readings, T0, already)
        if f.rule.startswith("news2")
    ]
