"""The evaluation of a seeded January (``month.py``), each figure against a hand
computation. January 2026 in Oslo is UTC+1 all month: 31 days from 31 Dec 23:00 UTC.

Centre A's patients in January:
  P1  1804  hypertension   enrolled 1 Dec 2025, active all month          31 active days
  P2  1804  hypertension   enrolled 11 Jan, paused 21-26 Jan               16 active, 5 paused
  P3  1838  heart failure  enrolled 1 Jun 2025, active all month           31 active days
  P4  1838  no care plan   enrolled 15 Dec 2025, ended at the start of 16 Jan  15 active
  P5  1804  enrolled 10 Feb 2026: not in January
"""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest

from service.auth.dev_issuer import mint_token
from service.auth.principal import Role
from service.settings import Settings
from tests.audit.helpers import audit_records, auditor_token
from tests.factories import auth
from tests.resource_use.month import Month
from tests.resource_use.seed import leader_token

JANUARY = {"from": "2026-01-01", "to": "2026-01-31"}


async def evaluation_of(
    client: httpx.AsyncClient, token: str, centre_id: str, period: dict[str, str] = JANUARY
) -> dict[str, Any]:
    response = await client.get(
        "/api/evaluation",
        params={"centre": centre_id, "disclosure": "exact", **period},
        headers=auth(token),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def value(figure: dict[str, Any]) -> float:
    return float(figure["value"])


async def test_patients_days_and_adherence(client: httpx.AsyncClient, month: Month) -> None:
    overall = (await evaluation_of(client, month.a.leader_token, month.a.id))["overall"]
    # P1-P4 (P5 enrolled after the month); P2 is the one enrolled in it.
    assert overall["patients"] == {"value": 4, "count": 4, "small": True}
    assert value(overall["newly_enrolled"]) == 1
    # active 31 + 16 + 31 + 15 = 93; paused: P2's 5 days (21-25 Jan)
    assert overall["patient_days"] == {"active": 93, "paused": 5, "total": 98}
    adherence = overall["adherence"]
    # Expected daily systolic: P1 31, P2 10 + 6 (its two active stretches) = 16;
    # P3 (heart failure) daily systolic and weight: 2 x 31 = 62. 31 + 16 + 62 = 109.
    assert adherence["expected"] == 109
    # Received: P1 20 days (two readings on 5 Jan fill one day), P2 10 + 2 (the reading
    # during the pause counts nothing), P3 none: 20 + 12 = 32.
    assert adherence["received"] == 32
    assert adherence["ratio"] == {"value": round(32 / 109, 2), "count": 3, "small": True}
    assert value(adherence["patients_without_plan"]) == 1  # P4


async def test_items_and_times_to_claim_and_resolve(
    client: httpx.AsyncClient, month: Month
) -> None:
    items = (await evaluation_of(client, month.a.leader_token, month.a.id))["overall"]["items"]
    # Red: P1 5 Jan, P3 15 Jan, P2 12 Jan (raised from yellow); P1's red of 31 Dec 21:00
    # Oslo time is December's. Yellow: P1, P2, P3, P4 clinical; P3's technical one
    # (no care plan, silent device, missing form) is counted apart, not as yellow.
    assert value(items["by_severity"]["red"]) == 3
    assert items["by_severity"]["yellow"] == {"value": 4, "count": 4, "small": True}
    assert value(items["technical"]) == 1
    # Clinical items per active patient-week: 93 / 7 = 13.29 weeks; 3 / 13.29, 4 / 13.29.
    assert value(items["per_patient_week"]["red"]) == round(3 / (93 / 7), 2)
    assert value(items["per_patient_week"]["yellow"]) == round(4 / (93 / 7), 2)
    claim, resolve = items["time_to_claim_minutes"], items["time_to_resolve_minutes"]
    # Red to claim: 6, 10, and 0 for P2 (claimed at 06:30, before its raise at 07:00).
    # Sorted 0, 6, 10: median 6; 90th percentile by nearest rank: ceil(0.9 x 3) = 3rd = 10.
    assert (claim["red"]["median"], claim["red"]["p90"]) == (6, 10)
    # Red to resolve: 30, 60, 60 (P2: 07:00 to 08:00): median 60, 3rd of 3 = 60.
    assert (resolve["red"]["median"], resolve["red"]["p90"]) == (60, 60)
    # Clinical yellow to claim: 30, 60, 20 (P4's never claimed; the technical one's 120
    # is not clinical work): sorted 20, 30, 60; median 30; ceil(0.9 x 3) = 3rd = 60.
    assert claim["yellow"]["n"]["count"] == 3
    assert (claim["yellow"]["median"], claim["yellow"]["p90"]) == (30, 60)
    # Clinical yellow to resolve: 60, 120, 50: sorted 50, 60, 120; median 60; 3rd = 120.
    assert (resolve["yellow"]["median"], resolve["yellow"]["p90"]) == (60, 120)


async def test_nurse_minutes_and_contacts(client: httpx.AsyncClient, month: Month) -> None:
    overall = (await evaluation_of(client, month.a.leader_token, month.a.id))["overall"]
    nurse = overall["nurse_time"]
    # Calls: P1 10 + 15, P2 10, P3 12, P4 17 (corrected from 7) = 64 in 5 calls; P1's
    # December call is not January's. Home visits 60 + 90 = 150; review 5; video 20;
    # message 3 (P4's was retracted); GP 8. Total 64 + 150 + 5 + 20 + 3 + 8 = 250.
    assert nurse["minutes"] == 250
    # Patient-months: 98 follow-up days / 30 = 3.267; 250 / 3.267 = 76.53.
    assert nurse["per_patient_month"] == {
        "value": round(250 / (98 / 30), 2),
        "count": 11,
        "small": False,
    }
    calls = nurse["by_action"]["phone_call"]
    assert (calls["minutes"], value(calls["events"])) == (64, 5)
    assert value(calls["per_patient_month"]) == round(64 / (98 / 30), 2)
    assert nurse["by_action"]["home_visit"]["minutes"] == 150
    assert nurse["by_action"]["secure_message"]["minutes"] == 3
    assert {k: f["value"] for k, f in overall["contacts"].items()} == {
        "phone_call": 5,
        "video_consultation": 1,
        "secure_message": 1,
        "home_visit": 2,
        "contact_with_gp": 1,
    }


async def test_before_and_after_enrolment(client: httpx.AsyncClient, month: Month) -> None:
    before_after = (await evaluation_of(client, month.a.leader_token, month.a.id))["overall"][
        "before_after"
    ]
    # Before: 365 days before each of the 4 enrolments: 4 patient-years.
    # After: each patient's follow-up days in January: 31 + 21 + 31 + 15 = 98 = 0.2685 years.
    assert before_after["before_patient_years"] == 4
    assert before_after["after_patient_years"] == round(98 / 365, 3)
    after_years = 98 / 365
    measures = before_after["measures"]

    def rates(measure: str) -> tuple[float, float]:
        return value(measures[measure]["before"]), value(measures[measure]["after"])

    # Admissions before: P1 (Mar 2025), P2 (Dec 2025): 2 / 4 = 0.5. After: P2 (21 Jan,
    # during its pause), P4 (14 Jan, no discharge): 2 / 0.2685 = 7.45.
    assert rates("admissions") == (0.5, round(2 / after_years, 2))
    # Bed days: before 5 (10-15 Mar) + 8 (20-28 Dec) = 13 / 4 = 3.25; after 4 (21-25 Jan)
    # / 0.2685 = 14.9; P4's stay has no discharge and no bed days.
    assert rates("bed_days") == (3.25, round(4 / after_years, 2))
    assert before_after["stays_without_discharge"] == 1
    # Legevakt: P1 Jun 2025, P2 Dec 2025: 0.5; after: P2's 15 Jan report was retracted.
    assert rates("emergency_contacts") == (0.5, 0)
    # GP: P1 Sep and Oct 2025: 0.5; after: the contact reported for 5 Feb, corrected to
    # 20 Jan: 1 / 0.2685 = 3.72.
    assert rates("gp_contacts") == (0.5, round(1 / after_years, 2))
    assert rates("municipal_acute_bed_stays") == (0.25, 0)  # P2, Nov 2025
    assert rates("short_term_stays") == (0, 0)
    # Home care (P1 only): 10 h/week before, 6 h/week from 1 Jan: per patient-year of
    # covered time, 10 x 365 / 7 = 521.43 and 6 x 365 / 7 = 312.86.
    assert rates("home_care_hours") == (round(10 * 365 / 7, 2), round(6 * 365 / 7, 2))
    assert measures["home_care_hours"]["after"]["small"] is True
    assert value(before_after["patients_with_reports"]) == 3  # P1, P2, P4


async def test_cohorts_by_municipality_and_protocol(
    client: httpx.AsyncClient, month: Month
) -> None:
    result = await evaluation_of(client, month.a.leader_token, month.a.id)
    municipalities = result["by_municipality"]
    assert sorted(municipalities) == ["1804", "1838"]
    # 1804: P1 and P2. Active 31 + 16 = 47; adherence (20 + 12) / (31 + 16).
    kommune = municipalities["1804"]
    assert value(kommune["patients"]) == 2
    assert kommune["patient_days"] == {"active": 47, "paused": 5, "total": 52}
    assert (kommune["adherence"]["expected"], kommune["adherence"]["received"]) == (47, 32)
    # Minutes: P1 10 + 15 + 60 + 5 = 90, P2 90 + 10 + 20 = 120: 210.
    assert kommune["nurse_time"]["minutes"] == 210
    # 1838: P3 and P4. Active 31 + 15 = 46; minutes 12 + 3 + 8 + 17 = 40.
    other = municipalities["1838"]
    assert other["patient_days"]["active"] == 46
    assert other["nurse_time"]["minutes"] == 40
    protocols = result["by_protocol"]
    assert sorted(protocols) == ["heart_failure", "hypertension", "none"]
    assert protocols["heart_failure"]["adherence"]["expected"] == 62
    assert protocols["heart_failure"]["adherence"]["ratio"]["value"] == 0
    assert protocols["none"]["adherence"]["ratio"]["value"] is None
    assert value(protocols["hypertension"]["items"]["by_severity"]["red"]) == 2  # P1, P2


async def test_each_centre_counts_its_own(client: httpx.AsyncClient, month: Month) -> None:
    result = await evaluation_of(client, month.b.centre.admin_token, month.b.id)
    overall = result["overall"]
    # Q1 alone: 31 active days; one call of 30 minutes: 30 / (31 / 30) = 29.03.
    assert value(overall["patients"]) == 1
    assert overall["patient_days"]["active"] == 31
    assert overall["nurse_time"]["minutes"] == 30
    assert value(overall["nurse_time"]["per_patient_month"]) == round(30 / (31 / 30), 2)
    assert (overall["adherence"]["expected"], overall["adherence"]["received"]) == (31, 1)
    assert value(overall["items"]["by_severity"]["red"]) == 1
    assert overall["before_after"]["measures"]["bed_days"]["after"]["count"] == 1
    assert list(result["by_municipality"]) == ["5001"]


async def test_a_shorter_period_counts_only_its_days(
    client: httpx.AsyncClient, month: Month
) -> None:
    result = await evaluation_of(
        client, month.a.leader_token, month.a.id, {"from": "2026-01-21", "to": "2026-01-25"}
    )
    days = result["overall"]["patient_days"]
    # P1 and P3 active all 5 days, P2 paused all 5, P4 ended: 10 active, 5 paused.
    assert (result["days"], days["active"], days["paused"]) == (5, 10, 5)
    assert value(result["overall"]["patients"]) == 3


async def test_only_the_centres_leaders_and_admins_read_it(
    client: httpx.AsyncClient, month: Month, settings: Settings
) -> None:
    url, params = "/api/evaluation", {"centre": month.a.id, **JANUARY}
    # A nurse without the evaluation scope: 403, whatever the centre.
    plain = await client.get(url, params=params, headers=auth(month.a.centre.nurse_token))
    assert plain.status_code == 403
    # Another centre's leader and admin: the centre is not theirs, as if it did not exist.
    for token in (leader_token(settings, month.b.id), month.b.centre.admin_token):
        response = await client.get(url, params=params, headers=auth(token))
        assert response.status_code == 404, response.text
        csv_response = await client.get("/api/evaluation.csv", params=params, headers=auth(token))
        assert csv_response.status_code == 404
    patient = await client.get(url, params=params, headers=month.patients["P1"].headers)
    assert patient.status_code == 403
    researcher = mint_token(settings, role=Role.researcher, subject="r", centres=[month.a.id])
    assert (await client.get(url, params=params, headers=auth(researcher))).status_code == 403


@pytest.mark.parametrize(
    "period",
    [
        {"from": "2026-02-01", "to": "2026-01-01"},
        {"from": "2020-01-01", "to": "2026-01-01"},
        # Found by the fuzzer (tests/test_openapi_fuzz.py): these answered 500.
        {"from": "0001-01-01", "to": "0001-01-01"},
        {"from": "9999-12-31", "to": "9999-12-31"},
    ],
)
async def test_a_bad_period_is_refused(
    client: httpx.AsyncClient, month: Month, period: dict[str, str]
) -> None:
    for url in ("/api/evaluation", "/api/evaluation.csv"):
        response = await client.get(
            url, params={"centre": month.a.id, **period}, headers=auth(month.a.leader_token)
        )
        assert response.status_code == 400, response.text


async def test_csv_export_applies_the_small_number_rule(
    client: httpx.AsyncClient, month: Month
) -> None:
    response = await client.get(
        "/api/evaluation.csv",
        params={"centre": month.a.id, **JANUARY},
        headers=auth(month.a.leader_token),
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    [rule] = [r for r in rows if r["cohort"] == "rule"]
    assert "subtraction" in rule["value"]
    cell = {(r["cohort"], r["group"], r["figure"]): r for r in rows if r["cohort"] != "rule"}
    centre = ("centre", month.a.id)
    # Four patients: "<5", and so is every figure resting on them (issue 16): five phone
    # calls of four patients, their patient-days and their minutes per patient-month
    # would otherwise be printed beside a hidden patient count.
    assert cell[(*centre, "patients")]["value"] == "<5"
    for name in (
        "contacts.phone_call",
        "items.by_severity.yellow",
        "items.per_patient_week.red",
        "items.time_to_claim_minutes.red.median",
        "nurse_time.by_action.home_visit.minutes",
        "nurse_time.minutes",
        "patient_days.active",
        "nurse_time.per_patient_month",
        "adherence.expected",
        "adherence.received",
        "before_after.before_patient_years",
    ):
        assert cell[(*centre, name)]["value"] == "<5", name
    # No value of a cohort of 1 to 4 patients is printed, whatever its name.
    for (cohort, group, name), row in cell.items():
        if cohort not in ("centre", "municipality", "protocol"):
            continue  # prices, and what patients say (its own rule: test_report_experience)
        patients = cell[(cohort, group, "patients")]["value"]
        if patients == "<5" and row["value"] not in ("", "0"):
            assert row["value"] == "<5", (cohort, group, name, row["value"])
    assert ("municipality", "1804", "patients") in cell
    assert not any(p.id in response.text for p in month.patients.values())


async def test_no_hidden_municipality_follows_from_the_centre_total(
    client: httpx.AsyncClient, month: Month
) -> None:
    """The subtraction an outsider would try: the centre's total minus its printed
    municipalities must never leave exactly one hidden municipality (13 - 9 = 4)."""
    for centre in (month.a, month.b):
        response = await client.get(
            "/api/evaluation.csv",
            params={"centre": centre.id, **JANUARY},
            headers=auth(centre.leader_token),
        )
        assert response.status_code == 200, response.text
        rows = list(csv.DictReader(io.StringIO(response.text)))
        totals = {r["figure"]: r["value"] for r in rows if r["cohort"] == "centre"}
        for name, total in totals.items():
            if total in ("", "<5"):
                continue
            parts = [
                r["value"] for r in rows if r["cohort"] == "municipality" and r["figure"] == name
            ]
            assert parts.count("<5") != 1, (centre.id, name, total, parts)


async def test_reading_the_evaluation_is_audited(
    client: httpx.AsyncClient, month: Month, settings: Settings
) -> None:
    await evaluation_of(client, month.a.leader_token, month.a.id)
    records = await audit_records(client, auditor_token(settings, month.a.centre))
    mine = [r for r in records if r["resource_type"] == "MeasureReport"]
    assert mine, "no audit record of the evaluation"
    assert all(r["centre_id"] == month.a.id and r["patient_id"] is None for r in mine)
    assert {(r["action"], r["subtype"]) for r in mine} >= {("E", "operation")}
