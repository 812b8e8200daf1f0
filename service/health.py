"""``GET /health``: for load balancers and compose; says whether the database answers."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter
from starlette.responses import JSONResponse

from service.deps import State

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(state: State) -> JSONResponse:
    try:
        async with state.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
    except Exception:  # the answer is the point: any failure means "not healthy"
        return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "up"})
