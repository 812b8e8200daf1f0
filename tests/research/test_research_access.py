"""Who reaches a study and its exports, the Bulk Data status sequence around them
(cancel, too many, expiry, download without a token), and the audit trail."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from service.models_base import utcnow
from service.research import runner
from service.research.models import ExportJob, Study
from service.settings import Settings
from tests.factories import auth, create_centre, enrol, observation
from tests.research.helpers import (
    ASYNC,
    bearer,
    export,
    kick_off,
    register_study,
    researcher,
    run_queued,
    study_body,
)


async def _study(client: httpx.AsyncClient, app: Any, settings: Settings, **overrides: Any) -> Any:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    posted = await client.post(
        "/fhir/Observation", json=observation(patient.id), headers=patient.headers
    )
    assert posted.status_code == 201
    subject, token = researcher(settings)
    study = await register_study(client, centre, [subject], k=1, **overrides)
    return centre, study, subject, token


async def test_researchers_see_only_their_studies_and_others_get_404(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre, study, _, token = await _study(client, app, settings)
    _, stranger = researcher(settings)
    mine = await client.get("/api/studies", headers=bearer(token))
    assert [s["id"] for s in mine.json()["studies"]] == [study["id"]]
    assert "key_ciphertext" not in mine.text
    assert "key_id" not in mine.json()["studies"][0]
    assert (await client.get("/api/studies", headers=bearer(stranger))).json()["studies"] == []
    one = await client.get(f"/api/studies/{study['id']}", headers=bearer(stranger))
    assert one.status_code == 404
    refused = await kick_off(client, study["id"], stranger)
    assert refused.status_code == 404
    assert refused.json()["resourceType"] == "OperationOutcome"
    started = await kick_off(client, study["id"], token)
    status_url = started.headers["Content-Location"]
    assert (await client.get(status_url, headers=bearer(stranger))).status_code == 404
    nurse = await kick_off(client, study["id"], centre.nurse_token)
    assert nurse.status_code == 403
    admin_view = await client.get("/api/studies", headers=auth(centre.admin_token))
    assert [s["id"] for s in admin_view.json()["studies"]] == [study["id"]]


async def test_only_admins_register_and_only_for_centres_in_their_reach(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    other = await create_centre(app, settings)
    subject, token = researcher(settings)
    body = study_body(other, [subject])
    outside = await client.post("/api/studies", json=body, headers=auth(centre.admin_token))
    assert outside.status_code == 400
    as_researcher = await client.post("/api/studies", json=body, headers=bearer(token))
    assert as_researcher.status_code == 403
    unknown = {**body, "centres": [centre.id], "variables": ["name"]}
    refused = await client.post("/api/studies", json=unknown, headers=auth(centre.admin_token))
    assert refused.status_code == 422
    expired = study_body(centre, [subject], expires_at="2020-01-01T00:00:00+01:00")
    late = await client.post("/api/studies", json=expired, headers=auth(centre.admin_token))
    assert late.status_code == 400
    assert late.json()["detail"].startswith("expires_at")


async def test_the_export_and_its_downloads_are_audited(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre, study, subject, token = await _study(client, app, settings)
    await export(client, app, settings, study["id"], token)
    async with app.state.dho.engine.connect() as conn:
        query = sa.text(
            "SELECT actor, actor_role, action, subtype, centre_id FROM audit_event "
            "WHERE resource_type = 'Group' AND resource_id = :s"
        )
        rows = (await conn.execute(query, {"s": study["id"]})).all()
    assert (subject, "researcher", "E", "export", centre.id) in rows
    downloads = [r for r in rows if r.subtype == "export-file"]
    assert len(downloads) >= 10
    assert {r.actor for r in rows} == {subject}


async def test_delete_cancels_and_the_status_url_then_answers_404(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    _, study, _, token = await _study(client, app, settings)
    started = await kick_off(client, study["id"], token)
    status_url = started.headers["Content-Location"]
    again = await kick_off(client, study["id"], token)
    assert again.status_code == 429
    assert again.headers["Retry-After"]
    cancelled = await client.delete(status_url, headers=bearer(token))
    assert cancelled.status_code == 202
    assert (await client.get(status_url, headers=bearer(token))).status_code == 404
    assert (await client.delete(status_url, headers=bearer(token))).status_code == 404
    await run_queued(app, settings)
    assert (await client.get(status_url, headers=bearer(token))).status_code == 404
    job_id = status_url.rsplit("/", 1)[1]
    assert not (runner.job_dir(settings, job_id)).exists()
    # A new export may start once the old one is cancelled.
    restarted = await kick_off(client, study["id"], token)
    assert restarted.status_code == 202
    await client.delete(restarted.headers["Content-Location"], headers=bearer(token))


async def test_polling_a_running_export_too_often_gets_429_and_waiting_as_told_does_not(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    _, study, _, token = await _study(client, app, settings)
    started = await kick_off(client, study["id"], token)
    status_url = started.headers["Content-Location"]
    first = await client.get(status_url, headers=bearer(token))
    assert first.status_code == 202
    wait = int(first.headers["Retry-After"])
    hasty = await client.get(status_url, headers=bearer(token))
    assert hasty.status_code == 429, hasty.text
    assert int(hasty.headers["Retry-After"]) == wait
    assert hasty.json()["resourceType"] == "OperationOutcome"
    # Another process answering the next poll knows of the last one: it is on the row.
    job_id = status_url.rsplit("/", 1)[1]
    jobs = ExportJob.__table__  # type: ignore[attr-defined]
    async with app.state.dho.engine.begin() as conn:
        polled = await conn.scalar(sa.select(jobs.c.polled_at).where(jobs.c.id == job_id))
        assert polled is not None
        # As if the researcher had waited Retry-After seconds.
        earlier = utcnow() - timedelta(seconds=wait)
        await conn.execute(sa.update(jobs).where(jobs.c.id == job_id).values(polled_at=earlier))
    assert (await client.get(status_url, headers=bearer(token))).status_code == 202
    # Once finished, the manifest may be fetched as often as wanted.
    await run_queued(app, settings)
    for _ in range(3):
        assert (await client.get(status_url, headers=bearer(token))).status_code == 200


async def test_files_need_a_token_and_expire(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    _, study, _, token = await _study(client, app, settings)
    result = await export(client, app, settings, study["id"], token)
    url = result.manifest["output"][0]["url"]
    assert (await client.get(url)).status_code == 401
    _, stranger = researcher(settings)
    assert (await client.get(url, headers=bearer(stranger))).status_code == 404
    job_id = result.status_url.rsplit("/", 1)[1]
    assert runner.job_dir(settings, job_id).is_dir()
    await runner.sweep(app.state.dho.engine, settings, utcnow() + timedelta(days=2))
    assert (await client.get(result.status_url, headers=bearer(token))).status_code == 404
    assert (await client.get(url, headers=bearer(token))).status_code == 404
    assert not runner.job_dir(settings, job_id).exists()


async def test_kick_off_wants_respond_async_and_refuses_what_it_does_not_offer(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    _, study, _, token = await _study(client, app, settings)
    url = f"/fhir/Group/{study['id']}/$export"
    assert (await client.get(url, headers=bearer(token))).status_code == 400
    headers = {**bearer(token), **ASYNC}
    assert (await client.get(url, params={"_type": "Patient"}, headers=headers)).status_code == 400
    csv_only = await client.get(url, params={"_outputFormat": "text/csv"}, headers=headers)
    assert csv_only.status_code == 400
    ndjson = {"_outputFormat": "application/fhir+ndjson"}
    started = await client.get(url, params=ndjson, headers=headers)
    assert started.status_code == 202
    assert started.headers["Content-Location"].startswith("http://dho.test/fhir/bulk-status/")
    await client.delete(started.headers["Content-Location"], headers=bearer(token))


async def test_an_expired_study_exports_nothing(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    _, study, _, token = await _study(client, app, settings)
    table = Study.__table__  # type: ignore[attr-defined]
    async with app.state.dho.engine.begin() as conn:
        await conn.execute(
            sa.update(table)
            .where(table.c.id == study["id"])
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    assert (await kick_off(client, study["id"], token)).status_code == 403
