"""What the audit tests share: an auditor of a centre, request ids to find one
request's records by, and the auditor's view of them."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import httpx
import sqlalchemy as sa

from service.auth.dev_issuer import mint_token
from service.auth.principal import Role
from service.settings import Settings
from tests.factories import Centre, auth

# Letters only: a request id with a run of 11 digits is refused (it could be an
# identity number) and replaced by the server's own.
_AS_LETTERS = str.maketrans("0123456789", "ghijklmnop")


def new_request_id() -> str:
    return f"audit-{uuid4().hex.translate(_AS_LETTERS)}"


def with_request_id(headers: dict[str, str], request_id: str) -> dict[str, str]:
    return {**headers, "X-Request-Id": request_id}


def auditor_token(settings: Settings, *centres: Centre) -> str:
    return mint_token(
        settings,
        role=Role.auditor,
        subject=f"auditor-{uuid4().hex[:8]}",
        centres=[c.id for c in centres],
    )


async def audit_records(
    client: httpx.AsyncClient, token: str, **params: Any
) -> list[dict[str, Any]]:
    """Every record the auditor finds with these filters, following the cursor."""
    records: list[dict[str, Any]] = []
    query = {"count": 200, **params}
    while True:
        response = await client.get("/api/audit", params=query, headers=auth(token))
        assert response.status_code == 200, response.text
        page = response.json()
        records.extend(page["records"])
        if page["next_cursor"] is None:
            return records
        query["cursor"] = page["next_cursor"]


async def records_of_request(
    client: httpx.AsyncClient, token: str, request_id: str, **params: Any
) -> list[dict[str, Any]]:
    records = await audit_records(client, token, **params)
    return [r for r in records if r["request_id"] == request_id]


async def all_rows(app: Any) -> list[tuple[Any, ...]]:
    """The whole audit table, as the database holds it."""
    async with app.state.dho.engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(sa.text("SELECT * FROM audit_event"))]
