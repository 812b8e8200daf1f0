"""The test receiver as a process of its own, and what a journal test needs around it:
a centre that journals to it, resolved items, and a sender as the worker runs it."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from service.journal import repository
from service.journal.sender import Sender
from service.settings import Settings
from tests.factories import Centre, EnrolledPatient, auth, blood_pressure
from tests.faults.cluster import free_port

ROOT = Path(__file__).resolve().parents[2]
_ticks = itertools.count()


class Receiver:
    """``start`` and ``stop`` (the receiver "down for a while"); what it stored
    survives a restart in its NDJSON file."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.store = root / f"receiver-{self.port}.ndjson"
        self.log = root / f"receiver-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/fhir/Bundle"

    def start(self) -> None:
        command = [
            sys.executable, "-m", "uvicorn", "tests.journal.receiver:app",
            "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
        ]  # fmt: skip
        env = {"RECEIVER_STORE": str(self.store), "PYTHONPATH": str(ROOT), "PATH": "/usr/bin"}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(self._control_url("_stats"), timeout=1).raise_for_status()
                return
            except httpx.HTTPError:
                if self.process.poll() is not None:
                    raise RuntimeError(self.log.read_text()) from None
                time.sleep(0.1)
        raise RuntimeError("the receiver did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def _control_url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def mode(self, mode: str, **extra: Any) -> None:
        answer = httpx.post(self._control_url("_control"), json={"mode": mode, **extra})
        answer.raise_for_status()

    def received(self) -> list[dict[str, Any]]:
        answer = httpx.get(self._control_url("_received"))
        answer.raise_for_status()
        stored: list[dict[str, Any]] = answer.json()
        return stored

    def stats(self) -> dict[str, int]:
        answer = httpx.get(self._control_url("_stats"))
        answer.raise_for_status()
        counted: dict[str, int] = answer.json()
        return counted


def fast(settings: Settings, **overrides: Any) -> Settings:
    """The test's settings with a backoff of tenths of seconds, not minutes."""
    values = {
        "journal_backoff_seconds": 0.02,
        "journal_backoff_max_seconds": 0.2,
        "journal_max_attempts": 50,
        "journal_poll_seconds": 0.05,
        **overrides,
    }
    return settings.model_copy(update=values)


async def journal_to(
    client: httpx.AsyncClient, centre: Centre, url: str, **config: Any
) -> dict[str, Any]:
    body = {"enabled": True, "receiver_url": url, "timeout_seconds": 2.0, **config}
    response = await client.put(
        f"/api/centres/{centre.id}/journal-config", json=body, headers=auth(centre.admin_token)
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def red_item_resolved(
    client: httpx.AsyncClient,
    patient: EnrolledPatient,
    note: str | None = "Ringte, ok.",
    readings: list[dict[str, Any]] | None = None,
) -> str:
    """A red reading (or ``readings``), and the item it opens resolved by the centre's
    nurse."""
    now = datetime.now(UTC) - timedelta(minutes=5)
    # A new time each call: the same values at the same time would be the same reading.
    red = blood_pressure(patient.id, 185, 95, effective=now - timedelta(seconds=next(_ticks)))
    for resource in readings or [red]:
        reading = await client.post("/fhir/Observation", json=resource, headers=patient.headers)
        assert reading.status_code == 201, reading.text
    nurse = auth(patient.centre.nurse_token)
    page = await client.get("/api/queue", params={"state": "open"}, headers=nurse)
    item_id = next(i["id"] for i in page.json()["items"] if i["patient_id"] == patient.id)
    body = {"outcome": "handled_by_centre", "actions": ["phone_call"], "note": note}
    resolved = await client.post(f"/api/queue/{item_id}/resolve", json=body, headers=nurse)
    assert resolved.status_code == 200, resolved.text
    return item_id


async def messages_of(app: Any, centre_id: str) -> list[Any]:
    message = repository.message
    query = (
        sa.select(message)
        .where(message.c.centre_id == centre_id)
        .order_by(message.c.created_at, message.c.id)
    )
    async with app.state.dho.engine.connect() as conn:
        return list((await conn.execute(query)).all())


def sender(app: Any, settings: Settings, http: httpx.AsyncClient) -> Sender:
    return Sender(app.state.dho.engine, settings, app.state.dho.vault, http)
