from datetime import UTC, datetime, timedelta

import pytest

from alerts import (
    Band,
    CarePlan,
    Finding,
    PlanStatus,
    Reading,
    Rule,
    Severity,
    evaluate,
    load_protocol,
    patient_advice,
)

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
HYPERTENSION = CarePlan(protocol="hypertension")


def reading(
    measurement: str,
    value: float,
    *,
    rid: str = "obs-1",
    at: datetime = T0,
    received_at: datetime | None = None,
    device_id: str | None = None,
) -> Reading:
    return Reading(
        reading_id=rid,
        measurement=measurement,
        value=value,
        effective_at=at,
        received_at=received_at or at + timedelta(minutes=2),
        device_id=device_id,
    )


def panel(systolic: float, diastolic: float, **kwargs: object) -> list[Reading]:
    return [
        reading("systolic", systolic, **kwargs),  # type: ignore[arg-type]
        reading("diastolic", diastolic, **kwargs),  # type: ignore[arg-type]
    ]


@pytest.mark.parametrize("status", [PlanStatus.PAUSED, PlanStatus.ENDED])
def test_paused_or_ended_raises_nothing(status: PlanStatus) -> None:
    plan = CarePlan(protocol="hypertension", status=status)
    assert evaluate(plan, panel(230, 140), [], T0) == []


def test_green_readings_give_no_findings() -> None:
    assert evaluate(HYPERTENSION, panel(128, 82), [], T0) == []


def test_a_panel_firing_the_same_rule_twice_becomes_one_finding() -> None:
    (finding,) = evaluate(HYPERTENSION, panel(182, 112, rid="bp"), [], T0)
    assert (finding.rule, finding.severity, finding.measurement) == (
        Rule.THRESHOLD_HIGH,
        Severity.RED,
        "systolic",
    )
    assert finding.reading_ids == ("bp",)
    assert finding.reason_nb == (
        "Systolisk blodtrykk 182 mmHg er over rød grense 180 mmHg; "
        "diastolisk blodtrykk 112 mmHg er over rød grense 110 mmHg"
    )


def test_a_merged_late_panel_says_late_once() -> None:
    late = panel(182, 112, rid="bp", received_at=T0 + 8 * HOUR)
    (finding,) = evaluate(HYPERTENSION, late, [], T0 + 8 * HOUR)
    assert finding.late
    assert finding.reason_en == (
        "Systolic blood pressure 182 mmHg is above the red limit 180 mmHg; "
        "diastolic blood pressure 112 mmHg is above the red limit 110 mmHg "
        "(the reading arrived 8 hours after it was taken)"
    )


def test_the_worse_side_of_a_panel_leads() -> None:
    history = [
        r for day in (1, 2) for r in panel(150, 105, rid=f"d{day}", at=T0 - day * timedelta(1))
    ]
    (finding,) = evaluate(HYPERTENSION, panel(182, 105, rid="bp"), history, T0)
    assert (finding.severity, finding.measurement) == (Severity.RED, "systolic")
    assert "diastolisk blodtrykk 105 mmHg er over gul grense 99 mmHg" in finding.reason_nb


@pytest.mark.parametrize(
    ("received_after", "late"),
    [(timedelta(hours=6), False), (timedelta(hours=6, seconds=1), True)],
)
def test_late_means_received_more_than_six_hours_after(
    received_after: timedelta, late: bool
) -> None:
    new = reading("systolic", 185, received_at=T0 + received_after)
    (finding,) = evaluate(HYPERTENSION, [new], [], T0 + received_after)
    assert finding.late is late
    assert ("etter at den ble tatt" in finding.reason_nb) is late


def test_already_fired_rules_do_not_fire_again_on_the_same_reading() -> None:
    new = panel(182, 80, rid="bp")
    assert evaluate(HYPERTENSION, new, [], T0, {("threshold.high", "bp")}) == []
    # Another rule, or the same rule on another reading, is not muted.
    assert evaluate(HYPERTENSION, new, [], T0, {("threshold.low", "bp")})
    assert evaluate(HYPERTENSION, new, [], T0, {("threshold.high", "older")})


def test_history_may_contain_the_new_readings() -> None:
    new = panel(182, 80, rid="bp")
    assert len(evaluate(HYPERTENSION, new, new, T0)) == 1


def test_a_copy_under_another_id_is_not_judged_again() -> None:
    original = reading("systolic", 185, rid="from-gateway")
    copy = reading("systolic", 185, rid="from-backfill", received_at=T0 + HOUR)
    assert evaluate(HYPERTENSION, [copy], [original], T0 + HOUR) == []


def test_copies_do_not_make_a_run() -> None:
    at = T0 - timedelta(days=1)
    copies = [reading("systolic", 165, rid=f"copy{i}", at=at) for i in range(3)]
    assert evaluate(HYPERTENSION, [reading("systolic", 165, rid="new")], copies, T0) == []


def test_repeats_minutes_apart_are_real_readings() -> None:
    repeats = [
        reading("systolic", 165, rid=f"r{i}", at=T0 - timedelta(minutes=5 * i)) for i in (1, 2)
    ]
    found = evaluate(HYPERTENSION, [reading("systolic", 166, rid="new")], repeats, T0)
    assert [f.rule for f in found] == [Rule.THRESHOLD_HIGH]


def test_future_dated_history_is_not_evidence() -> None:
    future = [reading("systolic", 165, rid=f"f{i}", at=T0 + timedelta(hours=i)) for i in (2, 3)]
    assert evaluate(HYPERTENSION, [reading("systolic", 165, rid="new")], future, T0) == []


@pytest.mark.parametrize(
    ("ahead", "flagged"),
    [(timedelta(minutes=10), False), (timedelta(minutes=11), True), (2 * HOUR, True)],
)
def test_a_reading_from_the_future_flags_the_device_clock(ahead: timedelta, flagged: bool) -> None:
    new = reading("systolic", 128, received_at=T0 - ahead, device_id="cuff-1")
    found = evaluate(HYPERTENSION, [new], [], T0 - ahead)
    assert [(f.rule, f.technical, f.device_id) for f in found] == (
        [(Rule.DEVICE_CLOCK, True, "cuff-1")] if flagged else []
    )


def test_device_clock_text() -> None:
    new = reading("systolic", 128, received_at=T0 - 2 * HOUR)
    (finding,) = evaluate(HYPERTENSION, [new], [], T0)
    assert finding.reason_nb == (
        "Målingen er tidsstemplet 2 timer etter at den ble mottatt; "
        "klokken på måleren går trolig feil"
    )
    assert finding.severity is Severity.YELLOW


def test_findings_come_worst_first_technical_last() -> None:
    plan = CarePlan(protocol="heart_failure", consecutive_required={"threshold.high": 1})
    history = [reading("body_weight", 80.0, rid="w0", at=T0 - timedelta(days=2))]
    new = [
        reading("body_weight", 82.5, rid="w1", received_at=T0 - HOUR),
    ]
    bp = panel(185, 80, rid="bp", received_at=T0 - HOUR)
    found = evaluate(plan, [*new, *bp], history, T0)
    assert [(f.severity, f.rule, f.technical) for f in found] == [
        (Severity.RED, Rule.THRESHOLD_HIGH, False),
        (Severity.YELLOW, Rule.WEIGHT_GAIN, False),
        (Severity.YELLOW, Rule.DEVICE_CLOCK, True),
        (Severity.YELLOW, Rule.DEVICE_CLOCK, True),
    ]


def test_a_yellow_on_a_red_reading_is_dropped() -> None:
    plan = CarePlan(
        protocol="heart_failure",
        spo2_baseline=97,
        spo2_drop_points=3,
        consecutive_required={"trend.spo2_drop": 1},
    )
    found = evaluate(plan, [reading("spo2", 90)], [], T0)
    assert [(f.rule, f.severity) for f in found] == [(Rule.THRESHOLD_LOW, Severity.RED)]
    # Without the red, the drop stands.
    found = evaluate(plan, [reading("spo2", 93)], [], T0)
    assert [f.rule for f in found] == [Rule.SPO2_DROP]


def test_a_personal_band_works_end_to_end() -> None:
    plan = CarePlan(
        protocol="hypertension",
        bands={"systolic": Band(90, 100, 140, 170)},
        consecutive_required={"threshold.high": 1},
    )
    (finding,) = evaluate(plan, [reading("systolic", 145)], [], T0)
    assert (finding.severity, finding.threshold) == (Severity.YELLOW, 140)
    (finding,) = evaluate(plan, [reading("systolic", 170)], [], T0)
    assert (finding.severity, finding.threshold) == (Severity.RED, 170)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        evaluate(HYPERTENSION, [], [], datetime(2025, 3, 3))


def finding(severity: Severity, *, critical: bool = False, technical: bool = False) -> Finding:
    return Finding(
        rule=Rule.THRESHOLD_HIGH,
        severity=severity,
        measurement="systolic",
        direction=None,
        reading_ids=("r",),
        reason_nb="x",
        reason_en="x",
        critical=critical,
        technical=technical,
    )


@pytest.mark.parametrize(
    ("found", "key"),
    [
        ([], "green"),
        ([finding(Severity.YELLOW)], "yellow"),
        ([finding(Severity.YELLOW), finding(Severity.RED)], "red"),
        ([finding(Severity.RED, critical=True)], "critical"),
        ([finding(Severity.YELLOW, technical=True)], "green"),
        ([finding(Severity.RED, technical=True), finding(Severity.YELLOW)], "yellow"),
    ],
)
def test_patient_advice_follows_the_worst_clinical_finding(found: list[Finding], key: str) -> None:
    protocol = load_protocol("hypertension")
    assert patient_advice(protocol, found) == protocol.advice[key]


def test_a_critical_value_tells_the_patient_to_call_113() -> None:
    protocol = load_protocol("hypertension")
    found = evaluate(HYPERTENSION, [reading("heart_rate", 35)], [], T0)
    assert found[0].critical
    assert patient_advice(protocol, found).nb == "Ring 113 nå. Oppfølgingstjenesten er varslet."
