"""``dho centre add|list|update`` as an operator runs it: a real process on the test
database, the same checks as the API, audited as the operator."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import sqlalchemy as sa

from service.auth.dev_issuer import mint_token
from service.auth.principal import Role
from service.settings import Settings
from tests.factories import auth

DHO = str(Path(sys.executable).parent / "dho")


async def _dho(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DHO_DATABASE_URL": settings.database_url,
        "DHO_VAR_DIR": str(settings.var_dir),
        "DHO_LOG_LEVEL": "WARNING",
    }
    return await asyncio.to_thread(
        subprocess.run,
        [DHO, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_an_operator_adds_lists_and_updates_a_centre(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre_id = f"c-{uuid4().hex[:10]}"
    refused = await _dho(
        settings,
        *("centre", "add", "--id", centre_id, "--name", "Bodø"),
        *("--org-number", "974760674", "--municipality", "1804"),
    )
    assert refused.returncode == 2
    assert "org_number" in refused.stderr
    added = await _dho(
        settings,
        *("centre", "add", "--id", centre_id, "--name", "Oppfølgingstjenesten Bodø"),
        *("--org-number", "974760673", "--municipality", "1804", "--municipality", "1841"),
        *("--time-zone", "Europe/Oslo", "--red-claim-minutes", "20"),
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith(f"{centre_id}\tOppfølgingstjenesten Bodø\t974760673")
    listed = await _dho(settings, "centre", "list")
    assert any(line.startswith(f"{centre_id}\t") for line in listed.stdout.splitlines())
    updated = await _dho(
        settings, "centre", "update", "--id", centre_id, "--time-zone", "Arctic/Longyearbyen"
    )
    assert updated.returncode == 0, updated.stderr
    bad_zone = await _dho(settings, "centre", "update", "--id", centre_id, "--time-zone", "Oslo")
    assert bad_zone.returncode == 2
    assert "time_zone" in bad_zone.stderr
    missing = await _dho(settings, "centre", "update", "--id", "no-such-centre", "--name", "x")
    assert missing.returncode == 2
    # What the API shows the centre's nurse is what the operator set.
    nurse = auth(mint_token(settings, role=Role.nurse, subject="n1", centres=[centre_id]))
    centre = (await client.get(f"/api/centres/{centre_id}", headers=nurse)).json()
    assert centre["municipalities"] == ["1804", "1841"]
    assert centre["time_zone"] == "Arctic/Longyearbyen"
    assert centre["red_claim_minutes"] == 20
    async with app.state.dho.engine.connect() as conn:
        query = sa.text(
            "SELECT action, actor FROM audit_event WHERE resource_type = 'Organization' "
            "AND resource_id = :id ORDER BY recorded_at"
        )
        rows = (await conn.execute(query, {"id": centre_id})).all()
    assert [r.action for r in rows] == ["C", "U"]
    assert all(r.actor.startswith("dho-cli:") for r in rows)
