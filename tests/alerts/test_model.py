from datetime import UTC, datetime, timedelta

import pytest

from alerts import Band, CarePlan, Direction, Finding, Reading, Rule, Schedule, Severity

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("severities", "worst"),
    [
        ([], Severity.GREEN),
        ([Severity.GREEN], Severity.GREEN),
        ([Severity.GREEN, Severity.YELLOW], Severity.YELLOW),
        ([Severity.YELLOW, Severity.RED, Severity.GREEN], Severity.RED),
        ([Severity.RED, Severity.YELLOW], Severity.RED),
    ],
)
def test_worst_severity_is_by_urgency_not_alphabet(
    severities: list[Severity], worst: Severity
) -> None:
    assert Severity.worst(severities) is worst
    if severities:
        assert max(severities) is worst


def test_severity_sorts_green_yellow_red() -> None:
    assert sorted([Severity.RED, Severity.GREEN, Severity.YELLOW]) == [
        Severity.GREEN,
        Severity.YELLOW,
        Severity.RED,
    ]
    assert Severity.YELLOW < Severity.RED
    assert Severity.YELLOW <= Severity.YELLOW
    assert Severity.RED > Severity.GREEN
    assert Severity.RED >= Severity.RED
    assert str(Severity.RED) == "red"


SYSTOLIC = Band(red_low=90, yellow_low=100, yellow_high=159, red_high=180)


@pytest.mark.parametrize(
    ("value", "severity", "direction", "limit"),
    [
        (89, Severity.RED, Direction.LOW, 90),
        (90, Severity.RED, Direction.LOW, 90),  # red_low is inclusive
        (90.01, Severity.YELLOW, Direction.LOW, 100),
        (99.99, Severity.YELLOW, Direction.LOW, 100),
        (100, Severity.GREEN, None, None),  # yellow_low is the last green value
        (130, Severity.GREEN, None, None),
        (159, Severity.GREEN, None, None),  # yellow_high is the last green value
        (159.01, Severity.YELLOW, Direction.HIGH, 159),
        (179.99, Severity.YELLOW, Direction.HIGH, 159),
        (180, Severity.RED, Direction.HIGH, 180),  # red_high is inclusive
        (250, Severity.RED, Direction.HIGH, 180),
    ],
)
def test_band_boundaries(
    value: float, severity: Severity, direction: Direction | None, limit: float | None
) -> None:
    judgement = SYSTOLIC.classify(value)
    assert (judgement.severity, judgement.direction, judgement.limit) == (
        severity,
        direction,
        limit,
    )


@pytest.mark.parametrize(
    ("band", "value", "severity"),
    [
        (Band(red_low=85, yellow_low=88), 86, Severity.YELLOW),
        (Band(red_low=85, yellow_low=88), 100, Severity.GREEN),
        (Band(yellow_high=20), 21, Severity.YELLOW),
        (Band(yellow_high=20), -5, Severity.GREEN),
        (Band(red_high=131), 131, Severity.RED),
        (Band(red_high=131), 130.9, Severity.GREEN),
        (Band(), 1e6, Severity.GREEN),
    ],
)
def test_one_sided_and_empty_bands(band: Band, value: float, severity: Severity) -> None:
    assert band.classify(value).severity is severity


@pytest.mark.parametrize(
    "limits",
    [
        {"red_low": 90, "yellow_low": 80},
        {"yellow_low": 100, "yellow_high": 90},
        {"yellow_high": 190, "red_high": 180},
        {"red_low": 100, "red_high": 100},
        {"red_low": float("nan")},
        {"red_high": float("inf")},
    ],
)
def test_band_refuses_disordered_or_infinite_limits(limits: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"band|red_low"):
        Band(**limits)


@pytest.mark.parametrize(
    ("band", "safety", "expected"),
    [
        # Looser red limits are pulled in to the safety limits.
        (Band(80, 86, None, None), Band(red_low=83), Band(83, 86, None, None)),
        (Band(None, 100, 159, 230), Band(90, None, None, 220), Band(90, 100, 159, 220)),
        # Stricter personal red limits stay.
        (Band(88, 90, 150, 170), Band(90 - 5, None, None, 220), Band(88, 90, 150, 170)),
        # Yellow limits beyond the new red limits are pulled in too.
        (Band(80, 82, None, None), Band(red_low=83), Band(83, 83, None, None)),
        (Band(None, None, 230, 240), Band(red_high=220), Band(None, None, 220, 220)),
    ],
)
def test_tightened_never_looser_than_safety(band: Band, safety: Band, expected: Band) -> None:
    assert band.tightened(safety) == expected


@pytest.mark.parametrize(
    "changes",
    [
        {"value": float("nan")},
        {"value": float("inf")},
        {"effective_at": datetime(2025, 3, 3, 8, 0)},
        {"received_at": datetime(2025, 3, 3, 8, 0)},
    ],
)
def test_reading_refuses_bad_values_and_naive_times(changes: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "reading_id": "r1",
        "measurement": "spo2",
        "value": 95.0,
        "effective_at": T0,
        "received_at": T0,
    }
    fields.update(changes)
    with pytest.raises(ValueError, match=r"finite|timezone"):
        Reading(**fields)  # type: ignore[arg-type]


def test_reading_key_is_observation_and_component() -> None:
    r = Reading(
        reading_id="bp1", measurement="systolic", value=120, effective_at=T0, received_at=T0
    )
    assert r.key == ("bp1", "systolic")


@pytest.mark.parametrize(
    "changes",
    [
        {"consecutive_required": {"threshold.high": 0}},
        {"spo2_scale": 3},
        {"weight_gain_kg": 0},
        {"weight_gain_days": -1},
        {"spo2_drop_points": 0},
        {"device_silence_hours": 0},
        {"trial_ends_at": datetime(2025, 3, 3)},
    ],
)
def test_care_plan_refuses_nonsense(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"must|timezone"):
        CarePlan(protocol="copd", **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("at", "in_trial"),
    [
        (T0 - timedelta(seconds=1), True),
        (T0, False),  # the trial ends at trial_ends_at, exclusive
        (T0 + timedelta(days=1), False),
    ],
)
def test_trial_is_judged_at_the_readings_time(at: datetime, in_trial: bool) -> None:
    assert CarePlan(protocol="copd", trial_ends_at=T0).in_trial(at) is in_trial
    assert CarePlan(protocol="copd").in_trial(at) is False


@pytest.mark.parametrize(
    "schedule",
    [
        {"every_hours": 0},
        {"every_hours": 24, "window_hours": -1},
        {"every_hours": 24, "grace_hours": -0.5},
    ],
)
def test_schedule_refuses_nonsense(schedule: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="schedule"):
        Schedule(**schedule)


def test_schedule_missing_after_adds_window_and_grace() -> None:
    assert Schedule(24, 6, 6).missing_after == timedelta(hours=36)


def test_fired_key_is_rule_and_anchor() -> None:
    finding = Finding(
        rule=Rule.THRESHOLD_HIGH,
        severity=Severity.RED,
        measurement="systolic",
        direction=Direction.HIGH,
        reading_ids=("anchor", "older"),
        reason_nb="x",
        reason_en="x",
    )
    assert finding.fired_key == ("threshold.high", "anchor")
    no_readings = Finding(
        rule=Rule.MISSING_READING,
        severity=Severity.YELLOW,
        measurement="spo2",
        direction=None,
        reading_ids=(),
        reason_nb="x",
        reason_en="x",
    )
    assert no_readings.fired_key is None
