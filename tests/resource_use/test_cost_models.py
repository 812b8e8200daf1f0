"""A municipality's prices in kroner: set by the centre's admin (API and file), read by
its evaluation readers, versioned by ``valid_from``, audited, and loaded by the demo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from service.auth.dev_issuer import mint_token
from service.auth.principal import Role
from service.cost_models import demo as demo_costs
from service.settings import Settings
from tests.centres.test_centre_cli import _dho
from tests.factories import auth, create_centre
from tests.resource_use.seed import leader_token

PRICES = {
    "nurse_hour": 650,
    "hospital_bed_day": 7700,
    "hospital_admission": 30800,
    "emergency_primary_care_contact": 1800,
    "gp_consultation": 950,
    "home_care_hour": 750,
    "municipal_acute_bed_day": 6000,
    "running_cost_per_patient_month": 1200,
}


def model(valid_from: str = "2025-01-01", **changes: float) -> dict[str, Any]:
    return {"valid_from": valid_from, "prices": {**PRICES, **changes}, "sources": "test"}


async def put_model(
    client: httpx.AsyncClient, token: str, centre_id: str, municipality: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.put(
        f"/api/centres/{centre_id}/cost-models/{municipality}", json=body, headers=auth(token)
    )


async def test_an_admin_sets_versions_and_leaders_read_them(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings, ["1804", "1840"])
    url = f"/api/centres/{centre.id}/cost-models/1804"
    leader = auth(leader_token(settings, centre.id))
    assert (await client.get(url, headers=leader)).json() == []

    first = await put_model(client, centre.admin_token, centre.id, "1804", model())
    assert first.status_code == 200, first.text
    later = await put_model(
        client, centre.admin_token, centre.id, "1804", model("2026-01-01", nurse_hour=700)
    )
    # The same valid_from again replaces that version.
    again = await put_model(
        client, centre.admin_token, centre.id, "1804", model("2026-01-01", nurse_hour=710)
    )
    assert len(later.json()) == 2
    versions = (await client.get(url, headers=leader)).json()
    assert [v["valid_from"] for v in versions] == ["2026-01-01", "2025-01-01"]
    assert versions[0]["prices"]["nurse_hour"] == 710
    assert versions == again.json()
    assert versions[1]["set_by"] == f"admin-{centre.id}"

    async with app.state.dho.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.text(
                    "SELECT action, query FROM audit_event WHERE resource_type = 'CostModel' "
                    "AND centre_id = :c ORDER BY recorded_at"
                ),
                {"c": centre.id},
            )
        ).all()
    assert [r.action for r in rows].count("U") == 3
    assert "municipality=1804&valid_from=2026-01-01" in {r.query for r in rows}


async def test_who_may_set_and_read(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings, ["1804"])
    other = await create_centre(app, settings, ["5001"])
    # A nurse (even a leader) does not set prices; an admin of another centre reaches none.
    nurse = await put_model(client, centre.nurse_token, centre.id, "1804", model())
    assert nurse.status_code == 403
    stranger = await put_model(client, other.admin_token, centre.id, "1804", model())
    assert stranger.status_code == 404
    # A municipality the centre does not serve has no model.
    unserved = await put_model(client, centre.admin_token, centre.id, "5001", model())
    assert unserved.status_code == 404
    negative = await put_model(
        client, centre.admin_token, centre.id, "1804", model(gp_consultation=-1)
    )
    assert negative.status_code == 422
    assert "gp_consultation" in negative.text
    plain_nurse = await client.get(
        f"/api/centres/{centre.id}/cost-models/1804", headers=auth(centre.nurse_token)
    )
    assert plain_nurse.status_code == 403
    patient = mint_token(settings, role=Role.patient, subject="someone")
    assert (
        await client.get(f"/api/centres/{centre.id}/cost-models/1804", headers=auth(patient))
    ).status_code == 403


async def test_the_file_import_is_all_or_nothing(
    client: httpx.AsyncClient, app: Any, settings: Settings, tmp_path: Path
) -> None:
    centre = await create_centre(app, settings, ["1804", "1840"])
    good = {"centre": centre.id, "municipality": "1804", **model()}
    bad = {"centre": centre.id, "municipality": "9999", **model()}
    path = tmp_path / "models.json"
    path.write_text(json.dumps([good, bad]))
    refused = await _dho(settings, "cost-model", "load", str(path))
    assert refused.returncode == 2
    assert "municipality" in refused.stderr
    leader = auth(leader_token(settings, centre.id))
    url = f"/api/centres/{centre.id}/cost-models/1804"
    assert (await client.get(url, headers=leader)).json() == []
    path.write_text(json.dumps([good, {**good, "municipality": "1840"}]))
    loaded = await _dho(settings, "cost-model", "load", str(path))
    assert loaded.returncode == 0, loaded.stderr
    assert "cost models set: 2" in loaded.stdout
    assert (await client.get(url, headers=leader)).json()[0]["prices"] == PRICES


async def test_the_demo_loads_its_model_once_and_never_over_an_admins(
    app: Any, settings: Settings, client: httpx.AsyncClient
) -> None:
    centre = await create_centre(app, settings, ["1804", "1840"])
    await put_model(client, centre.admin_token, centre.id, "1840", model(nurse_hour=1))
    async with app.state.dho.engine.begin() as conn:
        assert await demo_costs.load(conn, {centre.id: ["1804", "1840"]}) == 1
        assert await demo_costs.load(conn, {centre.id: ["1804", "1840"]}) == 0
    leader = auth(leader_token(settings, centre.id))
    kept = await client.get(f"/api/centres/{centre.id}/cost-models/1840", headers=leader)
    assert kept.json()[0]["prices"]["nurse_hour"] == 1
    demo = await client.get(f"/api/centres/{centre.id}/cost-models/1804", headers=leader)
    assert demo.json()[0]["prices"] == demo_costs.PRICES.model_dump()
