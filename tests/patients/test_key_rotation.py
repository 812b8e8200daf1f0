"""Rotating the data key: old rows still decrypt, patients are still found by identity
number, `reencrypt` moves every row to the new key, and then the old key can go from
the encryption keys (it stays only as the lookup key)."""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from service.app import create_app
from service.migrate import upgrade
from service.patients import service as patients
from service.patients.identity_number import FNR_SYSTEM
from service.settings import Settings
from tests.factories import auth, create_centre, new_identity_number, patient_resource

K1, K2 = (base64.b64encode(secrets.token_bytes(32)).decode() for _ in range(2))


@asynccontextmanager
async def _running(settings: Settings) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dho.test") as client:
            yield app, client


async def test_rotating_the_data_key_keeps_every_patient_readable_and_findable(
    tmp_path: Path,
) -> None:
    # A database of its own: re-encryption touches every row it finds.
    url = f"sqlite+aiosqlite:///{tmp_path / 'rotation.sqlite3'}"
    await asyncio.to_thread(upgrade, url)
    common: dict[str, Any] = {"database_url": url, "var_dir": tmp_path, "jobs_in_process": False}
    before = Settings(**common, data_key=K1, data_key_id="k1")
    number = new_identity_number()
    async with _running(before) as (app, client):
        centre = await create_centre(app, before)
        enrolled = await client.post(
            "/fhir/Patient",
            json=patient_resource(number, centre.id),
            headers=auth(centre.nurse_token),
        )
        assert enrolled.status_code == 201
        patient_id = enrolled.json()["id"]

    rotated = Settings(
        **common, data_key=K2, data_key_id="k2", retired_data_keys={"k1": K1}, lookup_key_id="k1"
    )
    async with _running(rotated) as (app, client):
        nurse = auth(_nurse_of(rotated, centre.id))
        read = await client.get(f"/fhir/Patient/{patient_id}", headers=nurse)
        assert _identity(read.json()) == number
        found = await client.get(
            "/fhir/Patient", params={"identifier": f"{FNR_SYSTEM}|{number}"}, headers=nurse
        )
        assert [e["resource"]["id"] for e in found.json()["entry"]] == [patient_id]
        vault = app.state.dho.vault
        async with app.state.dho.engine.begin() as conn:
            assert await patients.reencrypt_batch(conn, vault) >= 1
            assert await patients.reencrypt_batch(conn, vault) == 0
            key_ids = (
                (await conn.execute(sa.text("SELECT DISTINCT identity_key_id FROM patient")))
                .scalars()
                .all()
            )
        assert key_ids == ["k2"]

    # After re-encryption no row needs k1 to decrypt: it stays only as the lookup key.
    after = Settings(
        **common, data_key=K2, data_key_id="k2", retired_data_keys={"k1": K1}, lookup_key_id="k1"
    )
    async with _running(after) as (app, client):
        async with app.state.dho.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.text("SELECT identity_ciphertext FROM patient WHERE id = :id"),
                    {"id": patient_id},
                )
            ).one()
        assert app.state.dho.vault.decrypt(row.identity_ciphertext, "k2") == number
        assert number not in row.identity_ciphertext


def _nurse_of(settings: Settings, centre_id: str) -> str:
    from service.auth.dev_issuer import mint_token
    from service.auth.principal import Role

    return mint_token(settings, role=Role.nurse, subject="nurse-rotation", centres=[centre_id])


def _identity(resource: dict[str, Any]) -> str | None:
    for identifier in resource.get("identifier", []):
        if identifier.get("system") == FNR_SYSTEM:
            return str(identifier["value"])
    return None
