"""``/api/me``: the patient's own API. Only a patient's token reaches it, and only their
own data: the patient is the token's subject, never a parameter."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from service.auth.deps import current_principal
from service.auth.principal import Principal, Role
from service.deps import Db, State
from service.errors import Forbidden
from service.me import service as me
from service.me.schemas import HomeRead
from service.models_base import utcnow

router = APIRouter(prefix="/api/me", tags=["The patient's own"])


async def _patient(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if principal.role is not Role.patient or not principal.allows("Observation", "r"):
        raise Forbidden("only a patient's own token reaches /api/me")
    return principal


CurrentPatient = Annotated[Principal, Depends(_patient)]


@router.get("/home")
async def home(principal: CurrentPatient, db: Db, state: State) -> HomeRead:
    """Today's tasks (which are done), the latest advice with its colour, unread replies
    from the centre, the next contact the centre has planned, and the latest readings
    in canonical units with the original kept."""
    return await me.home_read(db, principal, state, utcnow())
