"""The evaluation month by month, through the real API on both databases: each month's
figures are the evaluation of that month alone, and no hidden month can be found as the
period's total minus the other months.

A quarter at one centre: nine patients of Bodø (1804) and two of Saltdal (1840), all
enrolled 1 October 2025. Phone calls: 6 in October, 2 in November, 7 in December; the
November two are hidden, and the total of 15 minus October's six and December's seven
would give them back unless one more month is hidden. Technical items: 5, 3, 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from service.resource_use import report_command
from service.resource_use.charts import Value
from service.resource_use.line_chart import line_chart
from service.resource_use.report_text import Lang
from service.resource_use.report_trend import CHART_IDS as TREND_IDS
from service.resource_use.trend import MAIN
from service.settings import Settings
from tests.factories import EnrolledPatient, auth, set_care_plan
from tests.resource_use.month import log
from tests.resource_use.seed import SeedCentre, backdate, enrol_in, item, local, seed_centre
from tests.resource_use.test_report import outline

MONTHS = {
    "2025-10": ("2025-10-01", "2025-10-31"),
    "2025-11": ("2025-11-01", "2025-11-30"),
    "2025-12": ("2025-12-01", "2025-12-31"),
}
CALLS = {"2025-10": 6, "2025-11": 2, "2025-12": 7}
TECHNICAL = {"2025-10": 5, "2025-11": 3, "2025-12": 0}


@dataclass
class Quarter:
    seed: SeedCentre
    patients: list[EnrolledPatient]


@pytest.fixture(scope="session")
async def quarter(client: httpx.AsyncClient, app: Any, settings: Settings) -> Quarter:
    seed = await seed_centre(app, settings, ["1804", "1840"])
    patients = []
    for municipality in ["1804"] * 9 + ["1840"] * 2:
        patient = await enrol_in(client, settings, seed.centre, municipality)
        await set_care_plan(client, patient, "hypertension")
        await backdate(app, patient.id, local(2025, 10, 1))
        patients.append(patient)
    for month, calls in CALLS.items():
        year, number = (int(x) for x in month.split("-"))
        for n in range(calls):
            when = local(year, number, 3 + n, 10)
            await log(client, seed.centre.nurse_token, patients[n], "phone_call", 10 + n, when)
        for n in range(TECHNICAL[month]):
            opened = local(year, number, 4 + n, 9)
            done = opened + timedelta(hours=1)
            await item(app, patients[n], "yellow", opened, resolved_at=done, technical=True)
        red = local(year, number, 20, 8)
        await item(app, patients[8], "red", red, resolved_at=red + timedelta(hours=1))
    return Quarter(seed, patients)


async def _trend(client: httpx.AsyncClient, quarter: Quarter, **params: str) -> dict[str, Any]:
    response = await client.get(
        "/api/evaluation/trend",
        params={"centre": quarter.seed.id, "from": "2025-10", "to": "2025-12", **params},
        headers=auth(quarter.seed.leader_token),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _evaluation(
    client: httpx.AsyncClient, quarter: Quarter, first: str, last: str, disclosure: str
) -> dict[str, Any]:
    response = await client.get(
        "/api/evaluation",
        params={"centre": quarter.seed.id, "from": first, "to": last, "disclosure": disclosure},
        headers=auth(quarter.seed.leader_token),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _main(figures: dict[str, Any]) -> dict[str, Any]:
    """The main figures picked by hand from the evaluation's answer."""
    after = figures["before_after"]["measures"]
    contacts = [c["count"] for c in figures["contacts"].values()]
    return {
        "patients": figures["patients"]["value"],
        "newly_enrolled": figures["newly_enrolled"]["value"],
        "active_patient_days": figures["patient_days"]["active"],
        "adherence": figures["adherence"]["ratio"]["value"],
        "red_items_per_patient_week": figures["items"]["per_patient_week"]["red"]["value"],
        "yellow_items_per_patient_week": figures["items"]["per_patient_week"]["yellow"]["value"],
        "technical_items": figures["items"]["technical"]["value"],
        "nurse_minutes_per_patient_month": figures["nurse_time"]["per_patient_month"]["value"],
        "nurse_contacts": None if None in contacts else sum(contacts),
        "admissions_per_patient_year": after["admissions"]["after"]["value"],
        "bed_days_per_patient_year": after["bed_days"]["after"]["value"],
    }


async def test_each_month_is_the_evaluation_of_that_month_alone(
    client: httpx.AsyncClient, quarter: Quarter
) -> None:
    exact = await _trend(client, quarter, disclosure="exact")
    assert [m["month"] for m in exact["months"]] == list(MONTHS)
    assert exact["figure_names"] == list(MAIN)
    assert exact["suppressed"] == []
    for month in exact["months"]:
        first, last = MONTHS[month["month"]]
        alone = await _evaluation(client, quarter, first, last, "exact")
        trend = {name: f["value"] for name, f in month["figures"].items()}
        assert trend == _main(alone["overall"]), month["month"]
        assert month["figures"]["nurse_contacts"]["value"] == CALLS[month["month"]]
        assert month["figures"]["technical_items"]["value"] == TECHNICAL[month["month"]]
        assert month["figures"]["patients"]["value"] == 11
    whole = await _evaluation(client, quarter, "2025-10-01", "2025-12-31", "exact")
    assert {n: f["value"] for n, f in exact["total"].items()} == _main(whole["overall"])
    assert exact["total"]["nurse_contacts"]["value"] == 15

    # As published, every month shown agrees with the month's published evaluation.
    published = await _trend(client, quarter)
    for month in published["months"]:
        first, last = MONTHS[month["month"]]
        alone = _main((await _evaluation(client, quarter, first, last, "published"))["overall"])
        for name, figure in month["figures"].items():
            if figure["value"] is not None:
                assert figure["value"] == alone[name], (month["month"], name)

    # One municipality: Saltdal's two patients show nothing in any month.
    saltdal = await _trend(client, quarter, municipality="1840")
    assert saltdal["cohort"] == "municipality"
    for month in saltdal["months"]:
        assert all(f["value"] is None and f["small"] for f in month["figures"].values())


async def test_no_hidden_month_is_the_total_minus_the_others(
    client: httpx.AsyncClient, quarter: Quarter
) -> None:
    published = await _trend(client, quarter)
    months = {m["month"]: m["figures"] for m in published["months"]}
    assert months["2025-11"]["nurse_contacts"] == {"value": None, "count": None, "small": True}
    assert published["total"]["nurse_contacts"]["value"] == 15
    # 15 − 6 − 7 would give November's two: a second month is hidden too.
    assert months["2025-10"]["nurse_contacts"]["value"] is None
    assert "2025-10/nurse_contacts" in published["suppressed"]
    assert months["2025-11"]["technical_items"]["value"] is None
    assert (
        "subtraction" in published["disclosure_rule"]
        or "total minus" in (published["disclosure_rule"])
    )
    for name in published["figure_names"]:
        total = published["total"][name]["value"]
        hidden = [m for m, figures in months.items() if figures[name]["value"] is None]
        if total is not None:
            assert len(hidden) != 1, f"{name}: total {total}, only {hidden} hidden"
        shown = [figures[name]["value"] for figures in months.values()]
        if total is not None and None not in shown and name in ("nurse_contacts",):
            assert sum(shown) == total


async def test_bad_trend_requests_are_refused_clearly(
    client: httpx.AsyncClient, quarter: Quarter
) -> None:
    token = auth(quarter.seed.leader_token)
    base = {"centre": quarter.seed.id, "from": "2025-10", "to": "2025-12"}
    cases = [
        ({**base, "from": "2025-13"}, 400, "from: a month as YYYY-MM"),
        ({**base, "to": "2025-09"}, 400, "to: before from"),
        ({**base, "from": "0000-01"}, 400, "from: a month between"),
        ({**base, "to": "9999-12"}, 400, "to: a month between"),
        ({**base, "from": "2025-1"}, 400, "from: a month as YYYY-MM"),
        ({**base, "from": "2020-01"}, 400, "at most 36 months"),
        ({**base, "municipality": "1804", "protocol": "copd"}, 400, "not both"),
        ({**base, "centre": "no-such-centre"}, 404, ""),
    ]
    for params, status, text in cases:
        response = await client.get("/api/evaluation/trend", params=params, headers=token)
        assert response.status_code == status, (params, response.text)
        assert text in response.text


def test_a_hidden_month_breaks_the_line_and_draws_no_point() -> None:
    points = [
        ("2025-10", Value(1.0, "1.0")),
        ("2025-11", Value(None, "<5")),
        ("2025-12", Value(3.0, "3.0")),
        ("2026-01", Value(4.0, "4.0")),
    ]
    svg = line_chart("trend-x", "A figure", "A line per month", points)
    assert svg.count("<circle") == 3
    assert svg.count("<polyline") == 1  # December to January; October stands alone
    assert "&lt;5" in svg
    assert '<title id="trend-x-title">A figure</title>' in svg
    assert '<desc id="trend-x-desc">A line per month</desc>' in svg
    assert 'aria-labelledby="trend-x-title trend-x-desc"' in svg


def test_a_year_of_months_labels_every_other_month_so_the_labels_do_not_overlap() -> None:
    months = [f"2026-{m:02d}" for m in range(1, 13)]
    points = [(month, Value(float(i), f"{i}")) for i, month in enumerate(months)]
    svg = line_chart("trend-y", "A figure", "A line per month", points)
    shown = [month for month in months if f">{month}</text>" in svg]
    assert shown == months[::2]
    assert svg.count("<circle") == 12  # every month keeps its point


@pytest.mark.parametrize("lang", ["nb", "en"])
async def test_the_report_draws_a_line_per_main_figure_with_its_table(
    quarter: Quarter, settings: Settings, lang: Lang
) -> None:
    html = await report_command.build(
        settings, quarter.seed.id, date(2025, 10, 1), date(2025, 12, 31), lang
    )
    parsed = outline(html)
    assert parsed.scripts == 0
    assert set(TREND_IDS) <= set(parsed.svgs)
    heading = "Utvikling måned for måned" if lang == "nb" else "Month by month"
    assert heading in parsed.headings
    for chart_id in TREND_IDS:
        figure = html.split(f'<svg xmlns="http://www.w3.org/2000/svg" id="{chart_id}"')[1]
        figure = figure.split("</figure>")[0]
        assert f'<title id="{chart_id}-title">' in figure
        assert f'<desc id="{chart_id}-desc">' in figure
        assert "<table>" in figure, f"{chart_id}: no table beside the chart"
    contacts = html.split('id="trend-nurse_contacts"')[1].split("</figure>")[0]
    chart, beside = contacts.split("</svg>")
    # October and November hidden (November small, October its complement): only
    # December is drawn, and no line joins a hidden month.
    assert chart.count("<circle") == 1
    assert "<polyline" not in chart
    description, drawn = chart.split("</desc>")
    assert description.count("&lt;5") == 2  # read out as hidden, like the table
    assert drawn.count("&lt;5") == 2
    rows = [r.split("</td>") for r in beside.split("<tr>")[2:]]
    cells = {r[0].removeprefix("<td>"): r[1].split(">")[-1] for r in rows}
    total = "Hele perioden" if lang == "nb" else "The whole period"
    assert cells == {"2025-10": "&lt;5", "2025-11": "&lt;5", "2025-12": "7", total: "15"}
    assert ("Hva pasientene sier" if lang == "nb" else "What patients say") in parsed.headings
