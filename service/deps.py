"""Request-scoped dependencies shared by the routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from service.database import reading
from service.state import AppState, app_state


async def db_transaction(request: Request) -> AsyncIterator[AsyncConnection]:
    """One transaction per request: committed when the handler returned normally,
    rolled back when it raised. The commit happens before the response is sent (the
    dependency's scope is the function), so a 201 always means stored. A request that
    would only queue behind a full pool is refused first (``service.admission``)."""
    async with admitted_transaction(app_state(request)) as conn:
        yield conn


@asynccontextmanager
async def admitted_transaction(state: AppState) -> AsyncIterator[AsyncConnection]:
    """A request's transaction, refused with 503 when the process's pool queue is full:
    for routes that open it themselves (the ingest hot path, after the body arrived)."""
    with state.admission.session():
        async with state.engine.begin() as conn:
            yield conn


async def read_only_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    """A connection to the read replica (``DHO_READ_DATABASE_URL``; the primary when
    unset) for read-heavy routes. Nothing written here: audit records go through
    ``Db``, on the primary, in the same request."""
    async with reading(app_state(request).read_engine) as conn:
        yield conn


Db = Annotated[AsyncConnection, Depends(db_transaction, scope="function")]
ReadDb = Annotated[AsyncConnection, Depends(read_only_connection, scope="function")]
State = Annotated[AppState, Depends(app_state)]
