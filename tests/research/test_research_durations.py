"""The evaluation's headline durations leave exact, though the times are cut to the hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from service.queue.models import TriageItem
from service.settings import Settings
from tests.factories import auth, blood_pressure, create_centre, enrol, queue_of
from tests.research.helpers import export, register_study, researcher


async def test_minutes_to_claim_and_resolve_are_exact_in_every_format(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    red = blood_pressure(patient.id, 188, 96)
    assert (await client.post("/fhir/Observation", json=red, headers=patient.headers)).is_success
    [item] = await queue_of(client, centre)
    nurse = auth(centre.nurse_token)
    assert (await client.post(f"/api/queue/{item['id']}/claim", headers=nurse)).is_success
    resolved = await client.post(
        f"/api/queue/{item['id']}/resolve",
        json={"outcome": "handled_by_centre", "actions": ["phone_call"], "minutes": 5},
        headers=nurse,
    )
    assert resolved.status_code == 200, resolved.text
    # The item was opened at 08:50 yesterday, claimed 7 and resolved 23 minutes later:
    # cut to the hour, the times read as claimed at once (08:00) and resolved in an hour.
    opened = datetime.now(UTC).replace(hour=8, minute=50, second=0, microsecond=0)
    opened -= timedelta(days=1)
    table = TriageItem.__table__  # type: ignore[attr-defined]
    async with app.state.dho.engine.begin() as conn:
        await conn.execute(
            table.update()
            .where(table.c.id == item["id"])
            .values(
                opened_at=opened,
                claimed_at=opened + timedelta(minutes=7),
                resolved_at=opened + timedelta(minutes=23),
            )
        )
    subject, token = researcher(settings)
    study = await register_study(client, centre, [subject], k=1)
    result = await export(client, app, settings, study["id"], token)

    [row] = result.csv("items")
    assert (row["minutes_to_claim"], row["minutes_to_resolve"]) == ("7", "23")
    # What the coarsened times alone would say.
    assert row["opened_at"].endswith("T08:00:00Z")
    assert row["claimed_at"].endswith("T08:00:00Z")
    assert row["resolved_at"].endswith("T09:00:00Z")
    [parquet] = result.parquet("items")
    assert (parquet["minutes_to_claim"], parquet["minutes_to_resolve"]) == (7, 23)
    [task] = result.ndjson("Task")
    durations = {
        e["url"].rsplit("research-", 1)[1]: e["valueQuantity"]
        for e in task["extension"]
        if "valueQuantity" in e
    }
    assert durations == {
        "minutes-to-claim": {
            "value": 7,
            "unit": "min",
            "system": "http://unitsofmeasure.org",
            "code": "min",
        },
        "minutes-to-resolve": {
            "value": 23,
            "unit": "min",
            "system": "http://unitsofmeasure.org",
            "code": "min",
        },
    }
    dictionary = result.files["data-dictionary.csv"].decode()
    assert "minutes_to_claim" in dictionary
    assert "before the shift" in dictionary
