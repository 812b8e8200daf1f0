"""An inter-municipal centre's nurse time and running cost split between its
municipalities by their patients' active days, with the small-number rule."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from service.patients.models import Patient
from service.resource_use import report_command
from service.settings import Settings
from tests.factories import auth
from tests.resource_use.seed import leader_token
from tests.resource_use.test_cost_models import model, put_model
from tests.resource_use.test_disclosure import _api_cells, _centre, _period, _subtractable


async def test_each_municipality_sees_its_share(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    # Six patients in 1804, two in 1840; phone calls of 5 to 12 minutes: 68 in all.
    centre = await _centre(client, app, settings)
    await client.patch(
        f"/api/centres/{centre.id}",
        json={"municipalities": ["1804", "1840"]},
        headers=auth(centre.admin_token),
    )
    # Enrolled twelve hours ago, within seconds of each other.
    patient = Patient.__table__  # type: ignore[attr-defined]
    async with app.state.dho.engine.begin() as conn:
        await conn.execute(
            sa.update(patient)
            .where(patient.c.centre_id == centre.id)
            .values(enrolled_at=datetime.now(UTC) - timedelta(hours=12))
        )
    await put_model(client, centre.admin_token, centre.id, "1804", model())
    await put_model(client, centre.admin_token, centre.id, "1840", model(nurse_hour=800))
    token = auth(leader_token(settings, centre.id))
    params = {"centre": centre.id, **_period()}
    exact = (
        await client.get("/api/evaluation", params={**params, "disclosure": "exact"}, headers=token)
    ).json()
    whole = exact["overall"]["share"]
    assert whole["active_days_fraction"]["value"] == 1
    assert whole["nurse_minutes"] == 68
    parts = {m: exact["by_municipality"][m]["share"] for m in ("1804", "1840")}
    # About six eighths and two eighths.
    assert parts["1804"]["active_days_fraction"]["value"] == pytest.approx(0.75, abs=0.01)
    assert sum(p["nurse_minutes"] for p in parts.values()) == pytest.approx(68, abs=0.2)
    for municipality, hourly in (("1804", 650), ("1840", 800)):
        share = parts[municipality]
        assert share["nurse_kroner"] == pytest.approx(share["nurse_minutes"] / 60 * hourly, abs=1)
    assert whole["nurse_kroner"] == pytest.approx(
        sum(p["nurse_kroner"] for p in parts.values()), abs=1
    )
    assert whole["running_cost_kroner"] == pytest.approx(
        sum(p["running_cost_kroner"] for p in parts.values()), abs=1
    )
    assert exact["by_protocol"]["copd"]["share"] is None

    published = (await client.get("/api/evaluation", params=params, headers=token)).json()
    for municipality in ("1804", "1840"):  # 1840's two, and 1804's that would give them
        share = published["by_municipality"][municipality]["share"]
        assert share["active_days_fraction"]["value"] is None
        assert share["nurse_minutes"] is None
    assert published["overall"]["share"]["nurse_minutes"] == 68
    assert _subtractable(_api_cells(published)) == []
    first, last = (date.fromisoformat(params["from"]), date.fromisoformat(params["to"]))
    html = await report_command.build(settings, centre.id, first, last, "en")
    assert "The municipalities&#x27; shares of the service&#x27;s costs" in html
