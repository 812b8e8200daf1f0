"""The seeded month, once per database: seeding goes through the API and takes a while."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from service.settings import Settings
from tests.resource_use.month import Month, seed_month


@pytest.fixture(scope="session")
async def month(client: httpx.AsyncClient, app: Any, settings: Settings) -> Month:
    return await seed_month(client, app, settings)
