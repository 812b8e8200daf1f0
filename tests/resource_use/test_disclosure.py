"""The small-number rule holds against subtraction, in the API, the CSV and the report.

Eight patients of one centre: six from Bodø (1804), two from Saltdal (1840). The two
are hidden ("<5"); if Bodø's six were shown beside the centre's eight, 8 − 6 would give
Saltdal's two back. The test tries exactly that, for every figure, in every format.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from service.resource_use import report_command
from service.settings import Settings
from tests.factories import auth, create_centre, set_care_plan
from tests.research.helpers import enrol_born
from tests.resource_use.seed import leader_token
from tests.resource_use.test_report import outline

PARTS = ("municipality", "protocol")


def _period() -> dict[str, str]:
    today = datetime.now(UTC).date()
    return {"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()}


async def _centre(client: httpx.AsyncClient, app: Any, settings: Settings) -> Any:
    centre = await create_centre(app, settings)
    for n, municipality in enumerate(["1804"] * 6 + ["1840"] * 2):
        patient = await enrol_born(
            client,
            settings,
            centre,
            date(1940 + n, 3, 1),
            female=n % 2 == 0,
            municipality=municipality,
        )
        await set_care_plan(client, patient, "copd")
        logged = await client.post(
            f"/api/patients/{patient.id}/resource-use",
            json={"action": "phone_call", "minutes": 5 + n},
            headers=auth(centre.nurse_token),
        )
        assert logged.status_code == 201, logged.text
    return centre


def _subtractable(cells: dict[tuple[str, str, str], str | None]) -> list[str]:
    """Figures where the total shows and exactly one part is hidden: subtraction finds it."""
    found = []
    paths = {path for (cohort, _, path) in cells if cohort == "centre"}
    for kind in PARTS:
        for path in paths:
            total = cells.get(("centre", "*", path))
            parts = [v for (c, _, p), v in cells.items() if c == kind and p == path]
            hidden = [v for v in parts if v == "<5"]
            if total not in ("<5", None, "", "None") and len(parts) > 1 and len(hidden) == 1:
                found.append(f"{kind}:{path} total {total} parts {parts}")
    return found


async def test_no_hidden_cell_can_be_found_by_subtraction(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await _centre(client, app, settings)
    token = auth(leader_token(settings, centre.id))
    params = {"centre": centre.id, **_period()}

    published = (await client.get("/api/evaluation", params=params, headers=token)).json()
    assert published["by_municipality"]["1840"]["patients"] == {
        "value": None,
        "count": None,
        "small": True,
    }
    # Bodø's six would give Saltdal's two back: hidden too, by the complementary rule.
    assert published["by_municipality"]["1804"]["patients"]["value"] is None
    assert published["overall"]["patients"]["value"] == 8
    assert "municipality/1804/patients" in published["suppressed"]
    assert "subtraction" in published["disclosure_rule"]
    api_cells = _api_cells(published)
    assert _subtractable(api_cells) == []

    exact = await client.get(
        "/api/evaluation", params={**params, "disclosure": "exact"}, headers=token
    )
    assert exact.json()["by_municipality"]["1840"]["patients"]["value"] == 2

    exported = await client.get("/api/evaluation.csv", params=params, headers=token)
    rows = [r for r in csv.DictReader(io.StringIO(exported.text)) if r["cohort"] != "rule"]
    csv_cells = {
        (r["cohort"], "*" if r["cohort"] == "centre" else r["group"], r["figure"]): r["value"]
        for r in rows
    }
    assert csv_cells[("municipality", "1804", "patients")] == "<5"
    assert csv_cells[("centre", "*", "patients")] == "8"
    assert _subtractable(csv_cells) == []

    first, last = (date.fromisoformat(params["from"]), date.fromisoformat(params["to"]))
    html = await report_command.build(settings, centre.id, first, last, "en")
    cells = outline(html).cells
    assert "6" not in cells, "Bodø's patients in the report"
    assert "2" not in cells, "Saltdal's patients in the report"
    assert "8" in cells


def _api_cells(body: dict[str, Any]) -> dict[tuple[str, str, str], str | None]:
    cells: dict[tuple[str, str, str], str | None] = {}
    cohorts = [("centre", "*", body["overall"])]
    cohorts += [("municipality", k, v) for k, v in body["by_municipality"].items()]
    cohorts += [("protocol", k, v) for k, v in body["by_protocol"].items()]
    for cohort, group, figures in cohorts:
        for path, value in _leaves("", figures):
            cells[(cohort, group, path)] = value
    return cells


def _leaves(prefix: str, node: Any) -> Any:
    if isinstance(node, dict) and {"value", "count", "small"} <= set(node):
        yield prefix, "<5" if node["small"] and node["value"] is None else str(node["value"])
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(f"{prefix}.{key}" if prefix else key, value)
    elif not isinstance(node, bool):
        yield prefix, "<5" if node is None else str(node)
