"""What the research tests share: a study registered through the API, the whole Bulk
Data sequence (kick-off, poll, run the queued export as the worker would, poll,
download), and readers of the three formats."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pyarrow.parquet as pq

from service.auth.dev_issuer import mint_token
from service.auth.principal import Role
from service.patients.identity_number import generate_identity_number
from service.research import runner
from service.settings import Settings
from tests.factories import Centre, EnrolledPatient, auth, patient_resource

ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}


def researcher(settings: Settings, subject: str | None = None) -> tuple[str, str]:
    subject = subject or f"researcher-{uuid4().hex[:8]}"
    return subject, mint_token(settings, role=Role.researcher, subject=subject)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def study_body(centre: Centre, researchers: list[str], **overrides: Any) -> dict[str, Any]:
    """A valid study registration for the centre, the last 60 days, for 30 days."""
    today = datetime.now(UTC).date()
    return {
        "title": "Home follow-up and admissions",
        "approval_reference": "REK 2026/4711",
        "purpose": "Evaluate readings, triage and resource use",
        "period_start": (today - timedelta(days=60)).isoformat(),
        "period_end": (today + timedelta(days=1)).isoformat(),
        "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        "researchers": researchers,
        "centres": [centre.id],
        **overrides,
    }


async def register_study(
    client: httpx.AsyncClient, centre: Centre, researchers: list[str], **overrides: Any
) -> dict[str, Any]:
    body = study_body(centre, researchers, **overrides)
    response = await client.post("/api/studies", json=body, headers=auth(centre.admin_token))
    assert response.status_code == 201, response.text
    study: dict[str, Any] = response.json()
    return study


async def enrol_born(
    client: httpx.AsyncClient,
    settings: Settings,
    centre: Centre,
    birth: date,
    *,
    female: bool,
    municipality: str = "1804",
) -> EnrolledPatient:
    """A patient of a chosen birth date, sex and municipality."""
    for _ in range(20):
        number = generate_identity_number(
            birth, 200 + int(uuid4().int % 280), female=female
        )  # not the demo's
        response = await client.post(
            "/fhir/Patient",
            json=patient_resource(number, centre.id, municipality),
            headers=auth(centre.nurse_token),
        )
        if response.status_code != 409:
            break
    assert response.status_code == 201, response.text
    patient_id = response.json()["id"]
    token = mint_token(settings, role=Role.patient, subject=patient_id)
    return EnrolledPatient(patient_id, number, centre, token)


@dataclass
class Export:
    manifest: dict[str, Any]
    files: dict[str, bytes]
    status_url: str

    def ndjson(self, resource_type: str) -> list[dict[str, Any]]:
        text = self.files.get(f"{resource_type}.ndjson", b"").decode()
        return [json.loads(line) for line in text.splitlines() if line]

    def csv(self, table: str) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO(self.files[f"{table}.csv"].decode())))

    def parquet(self, table: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = pq.read_table(
            io.BytesIO(self.files[f"{table}.parquet"])
        ).to_pylist()
        return rows

    def report(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.files["deidentification-report.json"])
        return document


async def kick_off(client: httpx.AsyncClient, study_id: str, token: str) -> httpx.Response:
    return await client.post(f"/fhir/Group/{study_id}/$export", headers={**bearer(token), **ASYNC})


async def run_queued(app: Any, settings: Settings) -> int:
    """What the worker's export loop does on its next round."""
    state = app.state.dho
    tools = runner.tools_for(state.engine, state.vault, state.catalogue)
    return await runner.run_pending(tools, settings)


async def export(
    client: httpx.AsyncClient, app: Any, settings: Settings, study_id: str, token: str
) -> Export:
    """The whole sequence, asserting the Bulk Data answers on the way."""
    started = await kick_off(client, study_id, token)
    assert started.status_code == 202, started.text
    status_url = started.headers["Content-Location"]
    waiting = await client.get(status_url, headers=bearer(token))
    assert waiting.status_code == 202, waiting.text
    assert waiting.headers["X-Progress"]
    assert int(waiting.headers["Retry-After"]) > 0
    assert await run_queued(app, settings) >= 1
    done = await client.get(status_url, headers=bearer(token))
    assert done.status_code == 200, done.text
    manifest: dict[str, Any] = done.json()
    files: dict[str, bytes] = {}
    for entry in manifest["extension"]["files"]:
        response = await client.get(entry["url"], headers=bearer(token))
        assert response.status_code == 200, (entry["name"], response.text)
        files[entry["name"]] = response.content
    return Export(manifest, files, status_url)
