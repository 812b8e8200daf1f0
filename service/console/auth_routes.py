"""Login, callback, logout and the language switch of the console."""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from service.auth.tokens import InvalidToken
from service.console import oidc, pages
from service.console.deps import ConsoleForm, safe_next, texts_for
from service.console.i18n import LANGS
from service.console.session import (
    COOKIE_PATH,
    LANG_COOKIE,
    LOGIN_COOKIE,
    clear_session,
    new_session,
    now,
    read_login,
    write_login,
    write_session,
)
from service.state import app_state

router = APIRouter(prefix="/console", include_in_schema=False)

NextParam = Annotated[str, Query(max_length=2000)]


def login_page(request: Request, next_url: str, message: str | None, status: int = 200) -> Response:
    texts = texts_for(request)
    context = {
        "t": texts,
        "lang": texts.lang,
        "next": safe_next(next_url),
        "message": texts(message) if message else None,
        "here": str(request.url.path),
    }
    return pages.html("login.html", context, status)


@router.get("/login")
async def login(request: Request, next: NextParam = "/console", why: str = "") -> Response:
    reasons = {"expired": "login.expired", "out": "login.logged_out", "failed": "login.failed"}
    return login_page(request, next, reasons.get(why))


@router.get("/login/start")
async def login_start(request: Request, next: NextParam = "/console") -> Response:
    settings = app_state(request).settings
    try:
        begun = await oidc.start(settings, request)
    except oidc.LoginFailed:
        return login_page(request, next, "login.failed", status=502)
    response = RedirectResponse(begun.url, status_code=303)
    write_login(response, settings, {"s": begun.state, "v": begun.verifier, "n": safe_next(next)})
    return response


@router.get("/callback")
async def callback(
    request: Request,
    code: Annotated[str, Query(max_length=4000)] = "",
    state: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    settings = app_state(request).settings
    pending = read_login(settings, request.cookies.get(LOGIN_COOKIE))
    if pending is None or not code or not secrets.compare_digest(state, str(pending["s"])):
        return login_page(request, "/console", "login.failed", status=400)
    try:
        token = await oidc.finish(settings, request, code, str(pending["v"]))
        await app_state(request).verifier.verify(token)
    except (oidc.LoginFailed, InvalidToken):
        return login_page(request, str(pending["n"]), "login.failed", status=400)
    response = RedirectResponse(safe_next(str(pending["n"])), status_code=303)
    write_session(response, settings, new_session(token, now()))
    response.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH)
    return response


@router.post("/logout")
async def logout(form: ConsoleForm) -> Response:
    response = RedirectResponse("/console/login?why=out", status_code=303)
    clear_session(response, form.page.state.settings)
    return response


@router.get("/lang")
async def switch_language(
    request: Request, to: str = "nb", next: NextParam = "/console"
) -> Response:
    """A preference, not a change of anything: a plain link, kept for a year."""
    response = RedirectResponse(safe_next(next), status_code=303)
    if to in LANGS:
        response.set_cookie(LANG_COOKIE, to, max_age=365 * 24 * 3600, path="/", samesite="lax")
    return response


def login_redirect(next_url: str, *, expired: bool) -> str:
    query = {"next": safe_next(next_url)}
    if expired:
        query["why"] = "expired"
    return "/console/login?" + urlencode(query)
