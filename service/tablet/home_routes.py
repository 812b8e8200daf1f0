"""The tablet's home screen: the same answer as ``GET /api/me/home``, drawn large."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from service.deps import Db
from service.me import service as me
from service.models_base import utcnow
from service.tablet.deps import TabletPage
from service.tablet.readings import ENTRY_OF

router = APIRouter(prefix="/me", include_in_schema=False)


@router.get("")
async def home(page: TabletPage, db: Db) -> Response:
    answer = await me.home_read(db, page.principal, page.state, utcnow())
    return page.render("home.html", home=answer, entry_of=ENTRY_OF)
