"""Kroner per patient-year: the seeded January (``month.py``) priced by hand, the
small-number rule on kroner (1-4 patients show none, and no subtraction gives them
back), and the report with and without a model.

Centre A's municipality 1804 gets the prices of ``test_cost_models.PRICES``; 1838 none.
1804's patients in January: P1 (enrolled 1 Dec 2025, 31 days) and P2 (enrolled 11 Jan,
21 days of follow-up). Before: 2 x 365 days = 2 patient-years; after: 52/365.
  before  P1: stay 10-15 Mar (5 bed days), legevakt, 2 GP, home care 10 h/week from
          1 Jun to 1 Dec (183 days); P2: stay 20-28 Dec (8 bed days), KAD 1-3 Nov
          (2 days), legevakt.
  after   P1: GP 20 Jan, home care 6 h/week for 31 days, nurse 90 minutes (4 actions);
          P2: stay 21-25 Jan (4 bed days), nurse 120 minutes (3 actions).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx

from service.resource_use import report_command
from service.settings import Settings
from tests.factories import auth
from tests.resource_use.month import Month
from tests.resource_use.seed import leader_token
from tests.resource_use.test_cost_models import PRICES, model, put_model
from tests.resource_use.test_disclosure import _api_cells, _centre, _period, _subtractable
from tests.resource_use.test_evaluation import evaluation_of

AFTER_YEARS = 52 / 365


def per_year(amount: float, years: float) -> int:
    return round(amount / years)


async def test_a_municipalitys_use_in_kroner_by_hand(
    client: httpx.AsyncClient, month: Month, settings: Settings
) -> None:
    await put_model(client, month.a.centre.admin_token, month.a.id, "1804", model("2025-06-01"))
    body = await evaluation_of(client, month.a.leader_token, month.a.id)
    assert body["municipalities_without_cost_model"] == ["1838"]
    assert body["cost_models"]["1804"]["prices"] == PRICES
    assert body["by_municipality"]["1838"]["kroner"] is None
    kroner = body["by_municipality"]["1804"]["kroner"]
    assert kroner["patients"]["count"] == 2
    assert kroner["before_patient_years"] == 2
    assert kroner["after_patient_years"] == round(AFTER_YEARS, 3)
    lines = {name: line for name, line in kroner["lines"].items()}
    assert lines["hospital_admissions"]["before"] == {"value": 30800, "count": 2, "small": True}
    assert lines["hospital_admissions"]["after"]["value"] == per_year(30800, AFTER_YEARS)
    assert lines["hospital_bed_days"]["before"]["value"] == (5 + 8) * 7700 / 2
    assert lines["hospital_bed_days"]["after"]["value"] == per_year(4 * 7700, AFTER_YEARS)
    assert lines["emergency_primary_care_contacts"]["before"]["value"] == 1800
    assert lines["gp_consultations"]["before"]["value"] == 950
    assert lines["gp_consultations"]["after"]["value"] == per_year(950, AFTER_YEARS)
    assert lines["municipal_acute_bed_days"]["before"]["value"] == 2 * 6000 / 2
    home_before = 10 * 183 / 7 * 750
    home_after = 6 * 31 / 7 * 750
    assert lines["home_care_hours"]["before"]["value"] == round(home_before / 2)
    assert lines["home_care_hours"]["after"]["value"] == per_year(home_after, AFTER_YEARS)
    nurse = (90 + 120) / 60 * 650
    assert lines["nurse_time"]["after"] == {
        "value": per_year(nurse, AFTER_YEARS),
        "count": 7,
        "small": False,
    }
    assert lines["nurse_time"]["before"]["value"] == 0
    # 1,200 kr a patient-month of 30 days is 14,600 kr a patient-year.
    assert lines["running_cost"]["after"]["value"] == 14600
    before = 2 * 30800 + 13 * 7700 + 2 * 1800 + 2 * 950 + 2 * 6000 + home_before
    after = 30800 + 4 * 7700 + 950 + home_after + nurse + 52 / 30 * 1200
    total = kroner["total"]
    assert total["before"]["value"] == round(before / 2)
    assert total["after"]["value"] == per_year(after, AFTER_YEARS)
    assert total["difference"]["value"] == per_year(after, AFTER_YEARS) - round(before / 2)
    # Hypertension is P1 and P2: priced by 1804's model, the same kroner.
    assert body["by_protocol"]["hypertension"]["kroner"]["total"] == total
    assert body["by_protocol"]["heart_failure"]["kroner"] is None
    # 0.14 patient-years after: too thin to read at the default minimum of one.
    assert kroner["too_thin"] is True

    # As published, two patients show no kroner at all, and four at the centre none.
    published = await client.get(
        "/api/evaluation",
        params={"centre": month.a.id, "from": "2026-01-01", "to": "2026-01-31"},
        headers=auth(month.a.leader_token),
    )
    shown = published.json()
    hidden = shown["by_municipality"]["1804"]["kroner"]
    assert hidden["total"]["after"] == {"value": None, "count": None, "small": True}
    assert hidden["before_patient_years"] is None
    assert shown["overall"]["kroner"]["total"]["difference"]["value"] is None

    html = await report_command.build(
        settings, month.a.id, date(2026, 1, 1), date(2026, 1, 31), "en"
    )
    assert "Kroner per patient-year" in html
    assert "Without a cost model (their patients are not priced): 1838" in html
    assert "Too thin to read" in html
    assert "30,800" in html  # the admission price printed beside its line


async def test_kroner_on_one_to_four_patients_are_suppressed_and_not_subtractable(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    # Six patients in 1804, two in 1840, each with a phone call: nurse time and running
    # cost in kroner for both municipalities.
    centre = await _centre(client, app, settings)
    served = await client.patch(
        f"/api/centres/{centre.id}",
        json={"municipalities": ["1804", "1840"]},
        headers=auth(centre.admin_token),
    )
    assert served.status_code == 200, served.text
    for municipality in ("1804", "1840"):
        answer = await put_model(client, centre.admin_token, centre.id, municipality, model())
        assert answer.status_code == 200, answer.text
    token = auth(leader_token(settings, centre.id))
    params = {"centre": centre.id, **_period()}
    exact = await client.get(
        "/api/evaluation", params={**params, "disclosure": "exact"}, headers=token
    )
    assert exact.json()["by_municipality"]["1840"]["kroner"]["total"]["after"]["count"] == 2
    published = (await client.get("/api/evaluation", params=params, headers=token)).json()
    small = published["by_municipality"]["1840"]["kroner"]
    assert small["patients"] == {"value": None, "count": None, "small": True}
    assert small["total"]["after"]["value"] is None
    assert small["lines"]["nurse_time"]["after"]["value"] is None
    assert small["after_patient_years"] is None
    # Bodø's six beside the centre's eight would give Saltdal's two back: hidden too.
    assert published["by_municipality"]["1804"]["kroner"]["total"]["after"]["value"] is None
    assert published["overall"]["kroner"]["total"]["after"]["value"] is not None
    assert "municipality/1840/kroner.total.after" in published["suppressed"]
    assert _subtractable(_api_cells(published)) == []

    first, last = (date.fromisoformat(params["from"]), date.fromisoformat(params["to"]))
    html = await report_command.build(settings, centre.id, first, last, "nb")
    assert "Kroner per pasientår" in html
    assert "Kommune 1840" in html


async def test_no_model_no_kroner_and_the_report_says_so(
    client: httpx.AsyncClient, month: Month, settings: Settings
) -> None:
    # Centre B never has a model.
    body = await evaluation_of(client, month.b.leader_token, month.b.id)
    assert body["cost_models"] == {}
    assert body["overall"]["kroner"] is None
    html = await report_command.build(
        settings, month.b.id, date(2026, 1, 1), date(2026, 1, 31), "nb"
    )
    assert "Ingen kostnadsmodell er satt" in html
