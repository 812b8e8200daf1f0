from datetime import UTC, datetime, timedelta

import pytest

from alerts import CarePlan, PlanStatus, Rule, Schedule, Severity, scan_missing

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
ENROLLED = T0 - timedelta(days=30)
HYPERTENSION = CarePlan(protocol="hypertension")  # expects systolic every 24 h, +6 h, +6 h


@pytest.mark.parametrize(
    ("since_last", "missing"),
    [
        (24 * HOUR, False),
        (36 * HOUR, False),  # exactly at every + window + grace: not yet
        (36 * HOUR + timedelta(seconds=1), True),
        (72 * HOUR, True),
    ],
)
def test_missing_after_every_plus_window_plus_grace(since_last: timedelta, missing: bool) -> None:
    found = scan_missing(HYPERTENSION, {"systolic": T0 - since_last}, {}, ENROLLED, T0)
    assert [(f.rule, f.measurement) for f in found] == (
        [(Rule.MISSING_READING, "systolic")] if missing else []
    )


def test_missing_finding_fields_and_text() -> None:
    last = T0 - 40 * HOUR
    (finding,) = scan_missing(HYPERTENSION, {"systolic": last}, {}, ENROLLED, T0)
    assert (finding.severity, finding.technical, finding.reading_ids) == (
        Severity.YELLOW,
        False,
        (),
    )
    assert (finding.value, finding.threshold) == (40.0, 36.0)
    assert finding.effective_at == last + 36 * HOUR
    assert finding.reason_nb == (
        "Ingen måling av systolisk blodtrykk på 40 timer "
        "(forventet én per 24 timer, grense 36 timer)"
    )
    assert finding.reason_en == (
        "No systolic blood pressure reading for 40 hours "
        "(expected one every 24 hours, limit 36 hours)"
    )


def test_the_same_gap_keeps_its_effective_at_across_scans() -> None:
    last = {"systolic": T0 - 40 * HOUR}
    first = scan_missing(HYPERTENSION, last, {}, ENROLLED, T0)
    later = scan_missing(HYPERTENSION, last, {}, ENROLLED, T0 + 5 * HOUR)
    assert [f.effective_at for f in first] == [f.effective_at for f in later]


def test_continued_silence_is_raised_again_each_schedule_period() -> None:
    """Daily systolic, missing from 36 h: a new finding at 60 h and 84 h, not between."""
    last = T0 - 40 * HOUR
    at = {
        hours: scan_missing(HYPERTENSION, {"systolic": last}, {}, ENROLLED, last + hours * HOUR)[
            0
        ].effective_at
        for hours in (37, 59, 61, 83, 85)
    }
    assert at[37] == at[59] == last + 36 * HOUR
    assert at[61] == at[83] == last + 60 * HOUR
    assert at[85] == last + 84 * HOUR


@pytest.mark.parametrize(
    ("last_seen", "enrolled", "missing"),
    [
        ({}, T0 - 36 * HOUR, False),  # never measured, but enrolled only 36 h ago
        ({}, T0 - 37 * HOUR, True),
        # Back from a pause 10 h ago: the old reading from before it does not count against them.
        ({"systolic": T0 - 20 * 24 * HOUR}, T0 - 10 * HOUR, False),
    ],
)
def test_the_clock_starts_at_enrolment(
    last_seen: dict[str, datetime], enrolled: datetime, missing: bool
) -> None:
    assert bool(scan_missing(HYPERTENSION, last_seen, {}, enrolled, T0)) is missing


def test_never_measured_says_so() -> None:
    (finding,) = scan_missing(HYPERTENSION, {}, {}, T0 - 48 * HOUR, T0)
    assert finding.reason_nb.startswith(
        "Ingen måling av systolisk blodtrykk siden oppfølgingen startet for 48 timer siden"
    )
    assert finding.reason_en.startswith(
        "No systolic blood pressure reading since follow-up started 48 hours ago"
    )


def test_each_expected_measurement_is_checked() -> None:
    copd = CarePlan(protocol="copd")  # spo2 daily, CAT weekly (168 + 24 + 24 h)
    last = {"spo2": T0 - 37 * HOUR, "cat_score": T0 - 215 * HOUR}
    assert [f.measurement for f in scan_missing(copd, last, {}, ENROLLED, T0)] == ["spo2"]
    last["cat_score"] = T0 - 217 * HOUR
    found = scan_missing(copd, last, {}, ENROLLED, T0)
    assert [f.measurement for f in found] == ["cat_score", "spo2"]


def test_a_missing_weekly_form_is_said_as_a_form_not_answered() -> None:
    copd = CarePlan(protocol="copd")
    last = {"spo2": T0 - HOUR, "cat_score": T0 - 217 * HOUR}
    (finding,) = scan_missing(copd, last, {}, ENROLLED, T0)
    assert finding.severity is Severity.YELLOW
    assert finding.reason_nb == (
        "Pasienten har ikke fylt ut ukeskjemaet om KOLS i hverdagen på 217 timer"
        " (forventet ett per 168 timer, grense 216 timer)"
    )


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ({}, ["systolic"]),
        ({"systolic": None}, []),  # the plan expects no blood pressure
        ({"systolic": Schedule(every_hours=48)}, []),
        ({"body_weight": Schedule(every_hours=24)}, ["body_weight", "systolic"]),
    ],
)
def test_plan_schedule_overrides(schedule: dict[str, Schedule | None], expected: list[str]) -> None:
    plan = CarePlan(protocol="hypertension", schedule=schedule)
    found = scan_missing(plan, {"systolic": T0 - 40 * HOUR}, {}, ENROLLED, T0)
    assert [f.measurement for f in found] == expected


@pytest.mark.parametrize("status", [PlanStatus.PAUSED, PlanStatus.ENDED])
def test_paused_or_ended_raises_nothing(status: PlanStatus) -> None:
    plan = CarePlan(protocol="hypertension", status=status)
    assert scan_missing(plan, {}, {"cuff": T0 - 500 * HOUR}, ENROLLED, T0) == []


@pytest.mark.parametrize(
    ("quiet", "plan_hours", "silent"),
    [
        (48 * HOUR, None, False),  # exactly at the protocol's 48 h: not yet
        (48 * HOUR + timedelta(seconds=1), None, True),
        (13 * HOUR, 12.0, True),
        (11 * HOUR, 12.0, False),
    ],
)
def test_device_silence(quiet: timedelta, plan_hours: float | None, silent: bool) -> None:
    plan = CarePlan(
        protocol="hypertension",
        device_silence_hours=plan_hours,
        schedule={"systolic": None},
    )
    found = scan_missing(plan, {}, {"cuff-1": T0 - quiet}, ENROLLED, T0)
    assert [(f.rule, f.device_id, f.technical) for f in found] == (
        [(Rule.DEVICE_SILENT, "cuff-1", True)] if silent else []
    )


def test_device_silence_text_and_stable_effective_at() -> None:
    plan = CarePlan(protocol="hypertension", schedule={"systolic": None})
    heard = T0 - 60 * HOUR
    (finding,) = scan_missing(plan, {}, {"cuff-1": heard}, ENROLLED, T0)
    assert finding.severity is Severity.YELLOW
    assert finding.effective_at == heard + 48 * HOUR
    assert finding.reason_nb == "Måleren cuff-1 har ikke sendt data på 60 timer; grense 48 timer"
    assert finding.reason_en == "Device cuff-1 has sent nothing for 60 hours; limit 48 hours"


def test_a_device_is_not_silent_before_enrolment() -> None:
    plan = CarePlan(protocol="hypertension", schedule={"systolic": None})
    found = scan_missing(plan, {}, {"cuff-1": T0 - 500 * HOUR}, T0 - 10 * HOUR, T0)
    assert found == []


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        scan_missing(HYPERTENSION, {}, {}, ENROLLED, datetime(2025, 3, 3))
