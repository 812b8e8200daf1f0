"""Health for load balancers, orchestrators and compose: alive apart from ready.

- ``GET /health/live``: the process is up and its event loop answers. Touches nothing
  else, so a database outage never makes an orchestrator restart healthy processes.
- ``GET /health/ready`` (and ``GET /health``, its older name): the process should get
  traffic: the database answers and its schema is at the newest migration this code
  knows. A process started before ``dho migrate`` finished, or pointed at an old
  restore, stays out of the load balancer instead of failing requests.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter
from pydantic import BaseModel
from starlette.responses import JSONResponse

from service.deps import State

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    database: Literal["up", "down"]
    # "at_head": the schema is the newest this code knows; "behind": migrations are
    # due (run `dho migrate`); "unknown": the database did not answer.
    migrations: Literal["at_head", "behind", "unknown"]


class Alive(BaseModel):
    status: Literal["alive"]


@lru_cache(maxsize=1)
def head_revisions() -> frozenset[str]:
    """The newest revision(s) of the migrations shipped with this code."""
    from alembic.script import ScriptDirectory

    from service.migrate import alembic_config

    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


@router.get("/health/live", response_model=Alive)
async def alive() -> Alive:
    """The process is up (nothing else is checked)."""
    return Alive(status="alive")


_NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"model": Health, "description": "the database does not answer, or is behind"}
}


@router.get("/health/ready", response_model=Health, responses=_NOT_READY)
async def ready(state: State) -> JSONResponse:
    """Ready for traffic: the database answers and its schema is at head."""
    return await _readiness(state)


@router.get("/health", response_model=Health, responses=_NOT_READY)
async def health(state: State) -> JSONResponse:
    """The same as ``/health/ready`` (kept for existing load balancer settings)."""
    return await _readiness(state)


async def _readiness(state: State) -> JSONResponse:
    try:
        async with state.engine.connect() as conn:
            found = await conn.execute(sa.text("SELECT version_num FROM alembic_version"))
            versions = frozenset(found.scalars().all())
    except Exception:  # the answer is the point: any failure means "not ready"
        body = Health(status="unavailable", database="down", migrations="unknown")
        return JSONResponse(body.model_dump(), status_code=503)
    if versions != head_revisions():
        body = Health(status="unavailable", database="up", migrations="behind")
        return JSONResponse(body.model_dump(), status_code=503)
    return JSONResponse(Health(status="ok", database="up", migrations="at_head").model_dump())
