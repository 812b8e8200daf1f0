"""What counts for k: every released patient attribute (unless the study's reviewer
said otherwise in writing), and what another study released to the same researchers
about the same patients."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import httpx

from service.patients.models import Patient
from service.settings import Settings
from tests.factories import Centre, auth, create_centre, set_care_plan
from tests.research.helpers import (
    bearer,
    enrol_born,
    export,
    kick_off,
    register_study,
    researcher,
    run_queued,
    study_body,
)

STATUS_IS_HARMLESS = {
    "variable": "status",
    "justification": "Follow-up status is known to no outsider; the reviewer accepts it.",
}


async def _women_over_80_one_paused(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> Centre:
    """Ten women of 85 with heart failure in one county; one of them is paused."""
    centre = await create_centre(app, settings)
    year = date.today().year - 86
    patients = []
    for day in range(1, 11):
        patient = await enrol_born(client, settings, centre, date(year, 2, day), female=True)
        await set_care_plan(client, patient, "heart_failure")
        patients.append(patient)
    table = Patient.__table__  # type: ignore[attr-defined]
    async with app.state.dho.engine.begin() as conn:
        paused = table.update().where(table.c.id == patients[0].id).values(status="paused")
        await conn.execute(paused)
    return centre


async def test_a_paused_woman_alone_in_her_class_is_suppressed_when_status_is_released(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await _women_over_80_one_paused(client, app, settings)
    subject, token = researcher(settings)
    study = await register_study(client, centre, [subject], k=5, max_suppressed_share=0.1)
    result = await export(client, app, settings, study["id"], token)
    rows = result.csv("patients")
    assert len(rows) == 9
    assert {r["status"] for r in rows} == {"active"}
    assert {r["sex"] for r in rows} == {"female"}
    assert b"paused" not in result.files["Patient.ndjson"]
    # Every written column but the pseudonym counts, recomputed here from the file.
    columns = [c for c in rows[0] if c != "patient"]
    assert "status" in columns
    assert min(Counter(tuple(r[c] for c in columns) for r in rows).values()) >= 5
    report = result.report()
    assert report["patients_suppressed"] == 1
    assert "status" in report["configuration"]["quasi_identifiers"]
    assert "enrolled_at" in report["configuration"]["quasi_identifiers"]
    # The shifted enrolment time to the hour made every patient unique: withheld.
    assert {r["enrolled_at"] for r in rows} == {""}
    assert report["withheld"] == ["enrolled_at"]


async def test_with_the_reviewers_written_justification_status_does_not_count(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await _women_over_80_one_paused(client, app, settings)
    subject, token = researcher(settings)
    study = await register_study(
        client,
        centre,
        [subject],
        k=5,
        max_suppressed_share=0.1,
        non_identifying=[STATUS_IS_HARMLESS],
    )
    assert study["non_identifying"] == [STATUS_IS_HARMLESS]
    result = await export(client, app, settings, study["id"], token)
    rows = result.csv("patients")
    assert len(rows) == 10
    assert Counter(r["status"] for r in rows) == {"active": 9, "paused": 1}
    report = result.report()
    assert report["patients_suppressed"] == 0
    assert report["k_reached"] == 10
    assert "status" not in report["configuration"]["quasi_identifiers"]
    assert report["configuration"]["non_identifying"] == [STATUS_IS_HARMLESS]


async def test_a_non_identifying_declaration_needs_a_released_attribute_and_words(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    subject, _ = researcher(settings)
    headers = auth(centre.admin_token)
    for declared, variables, field in (
        ([{"variable": "status"}], None, "body.non_identifying.0.justification"),
        ([{"variable": "status", "justification": "x" * 30}], None, ".0.justification"),
        ([STATUS_IS_HARMLESS], ["sex"], "body.non_identifying"),
        ([{**STATUS_IS_HARMLESS, "variable": "readings"}], None, ".0.variable"),
        ([STATUS_IS_HARMLESS, STATUS_IS_HARMLESS], None, "body.non_identifying"),
    ):
        body = study_body(centre, [subject], non_identifying=declared)
        if variables is not None:
            body["variables"] = variables
        response = await client.post("/api/studies", json=body, headers=headers)
        assert response.status_code == 422, (declared, response.text)
        assert field in response.text


async def _mixed_cohort(client: httpx.AsyncClient, app: Any, settings: Settings) -> Centre:
    """Five women and five men, five of 70-74 and five of 75-79; but three women and two
    men are in their early seventies: sex and age band together make classes of 2 and 3."""
    centre = await create_centre(app, settings)
    today = date.today()
    for day, (female, years) in enumerate(
        [(True, 73)] * 3 + [(True, 78)] * 2 + [(False, 73)] * 2 + [(False, 78)] * 3, start=1
    ):
        await enrol_born(client, settings, centre, date(today.year - years, 1, day), female=female)
    return centre


async def _outcome(
    client: httpx.AsyncClient, app: Any, settings: Settings, study: str, token: str
) -> str:
    started = await kick_off(client, study, token)
    assert started.status_code == 202, started.text
    await run_queued(app, settings)
    done = await client.get(started.headers["Content-Location"], headers=bearer(token))
    assert done.status_code == 200, done.text
    manifest = done.json()
    assert manifest["output"] == []
    [error] = manifest["error"]
    return (await client.get(error["url"], headers=bearer(token))).text


async def test_two_studies_with_a_shared_researcher_are_checked_as_one_release(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await _mixed_cohort(client, app, settings)
    subject, token = researcher(settings)
    ages = await register_study(client, centre, [subject], k=5, variables=["age_band", "readings"])
    sexes = await register_study(client, centre, [subject], k=5, variables=["sex", "readings"])
    # Each alone holds k=5.
    first = await export(client, app, settings, ages["id"], token)
    assert Counter(r["age_band"] for r in first.csv("patients")) == {"70-74": 5, "75-79": 5}
    assert first.report()["patients_suppressed"] == 0
    # Joined through their readings, sex and age band leave classes of 2 and 3.
    text = await _outcome(client, app, settings, sexes["id"], token)
    assert "OperationOutcome" in text
    assert "k=5 is not held over the union with study" in text
    assert ages["id"] in text
    assert "a class of 2" in text


async def test_the_same_studies_for_different_researchers_each_pass(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await _mixed_cohort(client, app, settings)
    one, one_token = researcher(settings)
    other, other_token = researcher(settings)
    ages = await register_study(client, centre, [one], k=5, variables=["age_band", "readings"])
    sexes = await register_study(client, centre, [other], k=5, variables=["sex", "readings"])
    await export(client, app, settings, ages["id"], one_token)
    result = await export(client, app, settings, sexes["id"], other_token)
    assert Counter(r["sex"] for r in result.csv("patients")) == {"female": 5, "male": 5}
    assert result.manifest["error"] == []
    assert result.report()["k_reached"] == 5


async def test_a_study_without_k_does_not_undo_the_k_of_another_for_its_researchers(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await _mixed_cohort(client, app, settings)
    subject, token = researcher(settings)
    ages = await register_study(client, centre, [subject], k=5, variables=["age_band", "readings"])
    sexes = await register_study(client, centre, [subject], k=1, variables=["sex", "readings"])
    await export(client, app, settings, ages["id"], token)
    text = await _outcome(client, app, settings, sexes["id"], token)
    assert "k=5 is not held over the union with study" in text
