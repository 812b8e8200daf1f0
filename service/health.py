"""``GET /health``: for load balancers and compose; says whether the database answers."""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from fastapi import APIRouter
from pydantic import BaseModel
from starlette.responses import JSONResponse

from service.deps import State

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    database: Literal["up", "down"]


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "the database does not answer"}},
)
async def health(state: State) -> JSONResponse:
    try:
        async with state.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
    except Exception:  # the answer is the point: any failure means "not healthy"
        return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "up"})
