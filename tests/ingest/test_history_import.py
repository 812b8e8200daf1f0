"""``dho import``: a moved patient's earlier readings are stored, searchable and used as
history, and raise nothing about the past; all or nothing, and idempotent."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from service.queue import jobs
from service.settings import Settings
from tests.factories import (
    auth,
    create_centre,
    observation,
    queue_of,
    readings_of,
    set_care_plan,
)
from tests.ingest.history_helpers import (
    DAYS,
    earlier_readings,
    enrol_from,
    expected_count,
    ndjson,
    recently,
    weight_at,
)

DHO = str(Path(sys.executable).parent / "dho")


async def _dho(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DHO_DATABASE_URL": settings.database_url,
        "DHO_VAR_DIR": str(settings.var_dir),
        "DHO_LOG_LEVEL": "WARNING",
    }
    return await asyncio.to_thread(
        subprocess.run, [DHO, *args], env=env, capture_output=True, text=True, timeout=120
    )


async def _counts(app: Any, patient_id: str) -> tuple[int, int]:
    async with app.state.dho.engine.connect() as conn:
        findings = await conn.scalar(
            sa.text("SELECT count(*) FROM finding WHERE patient_id = :p"), {"p": patient_id}
        )
        items = await conn.scalar(
            sa.text("SELECT count(*) FROM triage_item WHERE patient_id = :p"), {"p": patient_id}
        )
    return int(findings or 0), int(items or 0)


async def test_sixty_days_of_earlier_readings_become_history_without_items(
    client: httpx.AsyncClient, app: Any, settings: Settings, tmp_path: Path
) -> None:
    centre = await create_centre(app, settings)
    today = datetime.now(UTC).date()
    patient = await enrol_from(client, settings, centre, today - timedelta(days=DAYS))
    # A care plan first: the judge would raise items for these readings if handed them.
    await set_care_plan(client, patient, "heart_failure")
    last = recently()
    readings = earlier_readings(last)
    path = tmp_path / "readings.ndjson"
    path.write_bytes(ndjson(readings))

    done = await _dho(settings, "import", "--patient", patient.id, "--file", str(path))
    assert done.returncode == 0, done.stderr
    assert f"{expected_count()} readings stored" in done.stdout

    stored = await readings_of(client, patient)
    assert len(stored) == expected_count()
    assert {r["subject"]["reference"] for r in stored} == {f"Patient/{patient.id}"}
    # Charted like any reading: the nurse finds the old red pressures by date.
    oldest = (last - timedelta(days=DAYS)).date().isoformat()
    searched = await client.get(
        "/fhir/Observation",
        params={"patient": patient.id, "code": "85354-9", "date": f"ge{oldest}", "_count": 500},
        headers=auth(centre.nurse_token),
    )
    assert searched.status_code == 200
    systolics = [
        c["valueQuantity"]["value"]
        for e in searched.json()["entry"]
        for c in e["resource"]["component"]
        if c["code"]["coding"][0]["code"] == "8480-6"
    ]
    assert systolics.count(195) == 3
    assert await _counts(app, patient.id) == (0, 0)
    assert await queue_of(client, centre) == []
    # The baseline: the care plan's proposed bands rest on the imported readings.
    proposed = await client.get(
        f"/api/patients/{patient.id}/care-plan/proposed-bands",
        params={"days": 28},
        headers=auth(centre.nurse_token),
    )
    assert proposed.status_code == 200, proposed.text
    assert proposed.json()["readings"] > 0
    assert {"systolic", "heart_rate"} <= set(proposed.json()["bands"])

    # The missing-reading scan counts from the newest reading: the gap weeks ago is past.
    async with app.state.dho.engine.begin() as conn:
        await jobs.scan_missing_readings(conn, datetime.now(UTC))
    assert await _counts(app, patient.id) == (0, 0)

    again = await _dho(settings, "import", "--patient", patient.id, "--file", str(path))
    assert again.returncode == 0, again.stderr
    assert f"0 readings stored as history, {expected_count()} already stored" in again.stdout
    assert len(await readings_of(client, patient)) == expected_count()

    # A live weighing 2.5 kg over yesterday's imported one is a gain the judge sees.
    live = observation(patient.id, "29463-7", weight_at(0) + 2.5, "kg")
    posted = await client.post("/fhir/Observation", json=live, headers=patient.headers)
    assert posted.status_code == 201, posted.text
    [item] = await queue_of(client, centre)
    [finding] = item["findings"]
    assert finding["rule"] == "trend.weight_gain"
    assert finding["severity"] == "yellow"


async def test_a_bad_line_is_named_and_nothing_is_stored(
    client: httpx.AsyncClient, app: Any, settings: Settings, tmp_path: Path
) -> None:
    centre = await create_centre(app, settings)
    today = datetime.now(UTC).date()
    patient = await enrol_from(client, settings, centre, today - timedelta(days=10))
    good = earlier_readings(recently())[:6]
    bad_unit = observation("Patient/x", "29463-7", 80, "stone", effective=recently())
    lines = ndjson([*good, bad_unit, *good])
    path = tmp_path / "readings.ndjson"
    path.write_bytes(lines)
    done = await _dho(settings, "import", "--patient", patient.id, "--file", str(path))
    assert done.returncode == 2
    assert "line 7" in done.stderr
    assert "Observation.valueQuantity" in done.stderr
    assert "nothing stored" in done.stderr
    assert await readings_of(client, patient) == []

    path.write_bytes(lines.replace(lines.splitlines()[6], b'{"resourceType": "Observation",'))
    broken = await _dho(settings, "import", "--patient", patient.id, "--file", str(path))
    assert broken.returncode == 2
    assert "line 7: not valid JSON" in broken.stderr
    assert await readings_of(client, patient) == []

    unknown = await _dho(settings, "import", "--patient", "no-such-patient", "--file", str(path))
    assert unknown.returncode == 2
