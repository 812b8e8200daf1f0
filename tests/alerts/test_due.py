from datetime import UTC, datetime, timedelta

from alerts import CarePlan, PlanStatus, Schedule, load_protocol
from alerts.due import due_today

DAY_START = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # 00:00 in Oslo, winter
DAY_END = DAY_START + timedelta(days=1)
COPD = load_protocol("copd")
DAILY_FORM = Schedule(every_hours=24, window_hours=6)


def _tasks(plan: CarePlan, seen: dict[str, datetime]) -> dict[str, tuple[bool, bool]]:
    return {
        t.measurement: (t.form, t.done) for t in due_today(plan, COPD, seen, DAY_START, DAY_END)
    }


def test_a_daily_reading_taken_this_morning_is_done_and_one_from_yesterday_is_due() -> None:
    plan = CarePlan(protocol="copd", schedule={"copd_more_breathless": DAILY_FORM})
    morning = DAY_START + timedelta(hours=8)
    yesterday = DAY_START - timedelta(hours=15)
    tasks = _tasks(plan, {"spo2": morning, "copd_more_breathless": yesterday})
    assert tasks["spo2"] == (False, True)
    assert tasks["copd_more_breathless"] == (True, False)


def test_a_weekly_form_answered_this_week_is_not_on_the_list_and_one_never_answered_is() -> None:
    plan = CarePlan(protocol="copd")
    three_days_ago = DAY_START - timedelta(days=3)
    assert "cat_score" not in _tasks(plan, {"cat_score": three_days_ago})
    assert _tasks(plan, {})["cat_score"] == (True, False)
    eight_days_ago = DAY_START - timedelta(days=8)
    assert _tasks(plan, {"cat_score": eight_days_ago})["cat_score"] == (True, False)


def test_a_paused_patient_is_asked_for_nothing() -> None:
    plan = CarePlan(protocol="copd", status=PlanStatus.PAUSED)
    assert _tasks(plan, {}) == {}
