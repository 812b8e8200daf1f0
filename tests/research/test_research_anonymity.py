"""Offsets, pseudonyms and k-anonymity, judged from the written files."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from service.settings import Settings
from tests.factories import create_centre, enrol, observation, set_care_plan
from tests.research.helpers import (
    bearer,
    enrol_born,
    export,
    kick_off,
    register_study,
    researcher,
    run_queued,
)

QUASI_IDENTIFIERS = ("age_band", "sex", "region", "protocol", "enrolment_period")


async def test_thirty_patients_get_many_distinct_offsets(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patients = [await enrol(client, settings, centre) for _ in range(30)]
    subject, token = researcher(settings)
    study = await register_study(client, centre, [subject], k=1)
    result = await export(client, app, settings, study["id"], token)
    async with app.state.dho.engine.connect() as conn:
        query = sa.text("SELECT id, enrolled_at FROM patient WHERE centre_id = :c")
        enrolled = {p: _utc(at) for p, at in await conn.execute(query, {"c": centre.id})}
    assert len(enrolled) == len(patients) == 30
    # Each patient's offset, read from the output alone: shifted enrolment day minus
    # the true one (all were enrolled within the same minute or two).
    true_day = min(enrolled.values()).date()
    offsets = [
        (datetime.fromisoformat(row["enrolled_at"].replace("Z", "+00:00")).date() - true_day).days
        for row in result.csv("patients")
    ]
    assert len(offsets) == 30
    assert 0 not in offsets
    assert len(set(offsets)) >= 20
    assert all(abs(o) <= 181 for o in offsets)


def _utc(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


async def test_two_studies_give_the_same_patient_different_pseudonyms(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    for _ in range(3):
        await enrol(client, settings, centre)
    subject, token = researcher(settings)
    first = await register_study(client, centre, [subject], k=1)
    second = await register_study(client, centre, [subject], k=1)
    one = await export(client, app, settings, first["id"], token)
    again = await export(client, app, settings, first["id"], token)
    other = await export(client, app, settings, second["id"], token)
    pseudonyms = [{r["patient"] for r in e.csv("patients")} for e in (one, again, other)]
    assert len(pseudonyms[0]) == 3
    assert pseudonyms[0] == pseudonyms[1]  # stable within a study
    assert not pseudonyms[0] & pseudonyms[2]  # unlinkable between studies


async def _uniform_cohort(
    client: httpx.AsyncClient, app: Any, settings: Settings, centre: Any
) -> None:
    """Ten patients of 77, five women and five men, in Bodø, with heart failure."""
    year = date.today().year - 78
    for day in range(1, 11):
        patient = await enrol_born(
            client, settings, centre, date(year, 1, day), female=day % 2 == 0
        )
        await set_care_plan(client, patient, "heart_failure")


async def test_a_unique_patient_is_generalised_or_suppressed_and_every_class_reaches_k(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings, municipalities=["1804", "1856"])
    await _uniform_cohort(client, app, settings, centre)
    # 97, a rare protocol, and Røst (about 450 inhabitants).
    unique = await enrol_born(
        client,
        settings,
        centre,
        date(date.today().year - 98, 3, 3),
        female=True,
        municipality="1856",
    )
    await set_care_plan(client, unique, "diabetes")
    weighing = observation(unique.id, "29463-7", 71.5, "kg")
    assert (
        await client.post("/fhir/Observation", json=weighing, headers=unique.headers)
    ).is_success
    subject, token = researcher(settings)
    study = await register_study(client, centre, [subject], k=5, max_suppressed_share=0.1)
    result = await export(client, app, settings, study["id"], token)
    rows = result.csv("patients")
    # Recomputed here, independently of the export's own check.
    classes = Counter(tuple(row[q] for q in QUASI_IDENTIFIERS) for row in rows)
    assert min(classes.values()) >= 5
    assert not [r for r in rows if r["protocol"] == "diabetes" or r["age_band"] == "90+"]
    assert {r["region"] for r in rows} == {"18"}
    parquet_classes = Counter(
        tuple(row[q] for q in QUASI_IDENTIFIERS) for row in result.parquet("patients")
    )
    assert parquet_classes == classes
    report = result.report()
    assert report["patients_suppressed"] == 1
    assert report["k_reached"] >= 5
    assert report["patients_released"] == len(rows) == 10
    assert report["suppression_reason"]
    # The suppressed patient is in no file: not in the aggregates, not even as a
    # suppressed cell's labels, and the report does not count their records.
    assert result.files["aggregates.csv"]
    assert not [r for r in result.csv("aggregates") if r["protocol"] == "diabetes"]
    assert not [r for r in result.csv("aggregates") if r["category"] == "body_weight"]
    assert report["records_suppressed"].startswith("withheld")


async def test_an_export_that_would_suppress_too_many_fails_and_releases_nothing(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    for _ in range(4):
        await enrol(client, settings, centre)
    subject, token = researcher(settings)
    study = await register_study(client, centre, [subject], k=5, max_suppressed_share=0.05)
    started = await kick_off(client, study["id"], token)
    await run_queued(app, settings)
    done = await client.get(started.headers["Content-Location"], headers=bearer(token))
    assert done.status_code == 200
    manifest = done.json()
    assert manifest["output"] == []
    [error] = manifest["error"]
    outcome = await client.get(error["url"], headers=bearer(token))
    assert "k=5 cannot be reached" in outcome.text
    assert hashlib.sha256(outcome.content).hexdigest() == error["extension"]["sha256"]
    assert [f["name"] for f in manifest["extension"]["files"]] == ["OperationOutcome.ndjson"]
    timestamp = datetime.now(UTC) - timedelta(days=1)
    assert datetime.fromisoformat(manifest["transactionTime"].replace("Z", "+00:00")) > timestamp
