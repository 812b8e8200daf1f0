"""The kroner difference per patient-year carries a 95 % bootstrap interval over
patients: it holds the point estimate, is shown in the API and the report, and is
absent where there is no cost model (no kroner at all)."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx

from service.resource_use import bootstrap, report_command
from service.settings import Settings
from tests.factories import auth
from tests.resource_use.month import Month
from tests.resource_use.seed import leader_token
from tests.resource_use.test_cost_models import model, put_model
from tests.resource_use.test_disclosure import _centre, _period
from tests.resource_use.test_evaluation import evaluation_of


def test_the_interval_of_a_difference_holds_its_point_and_widens_with_spread() -> None:
    years = [1.0] * 8
    before = [10.0, 12.0, 8.0, 11.0, 9.0, 10.0, 13.0, 7.0]
    after = [4.0, 6.0, 5.0, 3.0, 7.0, 5.0, 4.0, 6.0]
    found = bootstrap.difference_interval(
        (before, years), (after, years), bootstrap.draws(len(years))
    )
    assert found is not None
    point = sum(after) / 8 - sum(before) / 8
    assert found[0] < point < found[1]
    same = bootstrap.difference_interval(
        ([5.0] * 8, years), ([5.0] * 8, years), bootstrap.draws(len(years))
    )
    assert same == (0.0, 0.0)
    assert bootstrap.difference_interval(([], []), ([], []), bootstrap.draws(0)) is None


async def test_the_kroner_difference_has_an_interval_in_the_api_and_the_report(
    client: httpx.AsyncClient, month: Month, settings: Settings
) -> None:
    await put_model(client, month.a.centre.admin_token, month.a.id, "1804", model("2025-06-01"))
    body = await evaluation_of(client, month.a.leader_token, month.a.id)
    for kroner in (body["overall"]["kroner"], body["by_municipality"]["1804"]["kroner"]):
        difference = kroner["total"]["difference"]["value"]
        assert kroner["difference_low"] is not None
        assert kroner["difference_low"] <= difference <= kroner["difference_high"]
        assert kroner["difference_low"] < kroner["difference_high"]
        assert kroner["too_thin"] is True  # 0.14 patient-years after
    # As published, two priced patients show no interval either.
    published = await client.get(
        "/api/evaluation",
        params={"centre": month.a.id, "from": "2026-01-01", "to": "2026-01-31"},
        headers=auth(month.a.leader_token),
    )
    hidden = published.json()["by_municipality"]["1804"]["kroner"]
    assert hidden["difference_low"] is None
    assert hidden["difference_high"] is None


async def test_the_report_prints_the_interval_beside_the_difference(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await _centre(client, app, settings)  # eight patients, 1804 and 1840
    served = await client.patch(
        f"/api/centres/{centre.id}",
        json={"municipalities": ["1804", "1840"]},
        headers=auth(centre.admin_token),
    )
    assert served.status_code == 200, served.text
    for municipality in ("1804", "1840"):
        answer = await put_model(client, centre.admin_token, centre.id, municipality, model())
        assert answer.status_code == 200, answer.text
    params = {"centre": centre.id, **_period()}
    token = auth(leader_token(settings, centre.id))
    body = (await client.get("/api/evaluation", params=params, headers=token)).json()
    kroner = body["overall"]["kroner"]
    difference = kroner["total"]["difference"]["value"]
    assert kroner["difference_low"] <= difference <= kroner["difference_high"]
    first, last = (date.fromisoformat(params["from"]), date.fromisoformat(params["to"]))
    html = await report_command.build(settings, centre.id, first, last, "en")
    assert "95 % interval of the total&#x27;s difference (bootstrap over patients)" in html
    nb = await report_command.build(settings, centre.id, first, last, "nb")
    assert "95 % intervall for forskjellen i sum" in nb


async def test_no_cost_model_no_interval(
    client: httpx.AsyncClient, month: Month, settings: Settings
) -> None:
    body = await evaluation_of(client, month.b.leader_token, month.b.id)
    assert body["overall"]["kroner"] is None
    html = await report_command.build(
        settings, month.b.id, date(2026, 1, 1), date(2026, 1, 31), "en"
    )
    assert "interval of the total" not in html
