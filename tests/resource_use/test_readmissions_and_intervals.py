"""30-day readmissions and the bootstrap intervals: pure rules by table, then the seeded
January (``month.py``) through the API on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import httpx

from service.resource_use import bootstrap, readmissions, report_command
from service.resource_use.facts import ExternalFacts, PatientFacts
from service.resource_use.periods import Span, local_period
from service.settings import Settings
from tests.resource_use.month import Month
from tests.resource_use.test_evaluation import evaluation_of

OSLO = ZoneInfo("Europe/Oslo")


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 10, tzinfo=UTC)


def stay(admitted: datetime, discharged: datetime | None) -> ExternalFacts:
    return ExternalFacts("p", "hospital_stay", admitted, discharged, None)


def test_a_readmission_is_a_stay_within_30_days_of_a_discharge_followed_30_days() -> None:
    now = at(2026, 6, 1)
    period = local_period(date(2026, 1, 1), date(2026, 3, 31), OSLO, now)
    enrolled = at(2026, 1, 1)
    patient = PatientFacts("p", "1804", enrolled, [Span(enrolled, now, "active")], None, {}, None)
    stays = [
        stay(at(2025, 6, 1), at(2025, 6, 10)),  # readmitted on 25 June: 15 days
        stay(at(2025, 6, 25), at(2025, 6, 30)),  # nothing within 30 days
        stay(at(2026, 2, 1), at(2026, 2, 5)),  # next stay 38 days later: not readmitted
        stay(at(2026, 3, 15), at(2026, 3, 20)),  # 30 days not over by 31 March: not counted
        stay(at(2026, 3, 25), None),  # no discharge
    ]
    found = readmissions.compute(stays, [patient], period)
    assert (found.before.discharges.value, found.before.readmitted.value) == (2, 1)
    assert found.before.share.value == 0.5
    assert (found.after.discharges.value, found.after.readmitted.value) == (1, 0)
    assert found.after.share.value == 0


def test_bootstrap_intervals_are_deterministic_and_hold_the_estimate() -> None:
    amounts = [0, 0, 1, 3, 0, 2, 0, 0, 5, 1]
    years = [1.0, 0.5, 1.0, 1.0, 0.25, 1.0, 1.0, 0.75, 1.0, 1.0]
    weights = bootstrap.draws(len(amounts))
    low, high = bootstrap.ratio_interval(amounts, years, weights) or (0, 0)
    estimate = sum(amounts) / sum(years)
    assert low < estimate < high
    assert bootstrap.ratio_interval(amounts, years, bootstrap.draws(len(amounts))) == (low, high)
    assert bootstrap.ratio_interval([0] * 10, years, weights) == (0, 0)
    assert bootstrap.ratio_interval([], [], bootstrap.draws(0)) is None


async def test_readmissions_and_intervals_of_the_month(
    client: httpx.AsyncClient, month: Month
) -> None:
    body = await evaluation_of(client, month.a.leader_token, month.a.id)
    before_after = body["overall"]["before_after"]
    # P1's stay of March 2025 (no readmission) and P2's of December, readmitted on
    # 21 January, 24 days after its discharge; P2's January stay has had no 30 days by
    # the month's end, and P4's has no discharge.
    found = before_after["readmissions_30_days"]
    assert (found["before"]["discharges"]["value"], found["before"]["readmitted"]["value"]) == (
        2,
        1,
    )
    assert found["before"]["share"]["value"] == 0.5
    assert found["after"]["discharges"]["value"] == 0
    admissions = before_after["measures"]["admissions"]
    for side in ("before", "after"):
        rate = admissions[side]
        assert rate["low"] <= rate["value"] <= rate["high"]
    # Four patient-years before; 98 patient-days (0.27 years) after: too thin to read.
    assert admissions["before"]["thin"] is False
    assert admissions["after"]["thin"] is True
    again = await evaluation_of(client, month.a.leader_token, month.a.id)
    assert again["overall"]["before_after"]["measures"] == before_after["measures"]


async def test_the_report_shows_intervals_denominators_and_readmissions(
    month: Month, settings: Settings
) -> None:
    for lang, words in (
        ("nb", ("Reinnleggelser innen 30 dager", "per pasientår", "for tynt til å lese")),
        ("en", ("Readmissions within 30 days", "per patient-year", "too thin to read")),
    ):
        html = await report_command.build(
            settings,
            month.a.id,
            date(2026, 1, 1),
            date(2026, 1, 31),
            lang,  # type: ignore[arg-type]
        )
        for word in words:
            assert word.lower() in html.lower(), (lang, word)
    # The nurse's contact with the GP and the patient's GP contacts are named apart.
    assert "Nurse&#x27;s contact with the GP" in html
    assert "GP contacts (outside the service, reported)" in html
