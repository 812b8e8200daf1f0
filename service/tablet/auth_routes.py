"""Login, callback, logout and the language switch of the tablet page.

The patient logs in at the patients' issuer (ID-porten in production, through
``tablet_issuer``; the development issuer lists the demo's patients), by the same
authorization code flow with PKCE as the console, and the token is verified by the
API's own verifier: only a patient's token opens ``/me``.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from service.auth.principal import Role
from service.auth.tokens import InvalidToken
from service.console import oidc
from service.console.i18n import LANGS
from service.console.session import (
    LANG_COOKIE,
    TABLET,
    clear_session,
    new_session,
    now,
    read_login,
    write_login,
    write_session,
)
from service.state import app_state
from service.tablet.deps import TabletForm, render

router = APIRouter(prefix="/me", include_in_schema=False)

_REASONS = {"expired": "me.login.expired", "out": "me.login.logged_out", "failed": "login.failed"}


def _login_page(request: Request, message: str | None, status: int = 200) -> Response:
    return render(request, "login.html", {"message": message}, status)


@router.get("/login")
async def login(request: Request, why: Annotated[str, Query(max_length=20)] = "") -> Response:
    return _login_page(request, _REASONS.get(why))


@router.get("/login/start")
async def login_start(request: Request) -> Response:
    settings = app_state(request).settings
    client = oidc.Client.tablet(settings)
    try:
        begun = await oidc.start(settings, request, client)
    except oidc.LoginFailed:
        return _login_page(request, "login.failed", status=502)
    response = RedirectResponse(begun.url, status_code=303)
    write_login(response, settings, {"s": begun.state, "v": begun.verifier}, TABLET)
    return response


@router.get("/callback")
async def callback(
    request: Request,
    code: Annotated[str, Query(max_length=4000)] = "",
    state: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    settings = app_state(request).settings
    pending = read_login(settings, request.cookies.get(TABLET.login_cookie), TABLET)
    if pending is None or not code or not secrets.compare_digest(state, str(pending["s"])):
        return _login_page(request, "login.failed", status=400)
    client = oidc.Client.tablet(settings)
    try:
        token = await oidc.finish(settings, request, code, str(pending["v"]), client)
        principal = await app_state(request).verifier.verify(token)
    except (oidc.LoginFailed, InvalidToken):
        return _login_page(request, "login.failed", status=400)
    if principal.role is not Role.patient:
        return _login_page(request, "me.login.not_patient", status=403)
    response = RedirectResponse("/me", status_code=303)
    write_session(response, settings, new_session(token, now()), TABLET)
    response.delete_cookie(TABLET.login_cookie, path=TABLET.path)
    return response


@router.post("/logout")
async def logout(form: TabletForm) -> Response:
    response = RedirectResponse("/me/login?why=out", status_code=303)
    clear_session(response, form.page.state.settings, TABLET)
    return response


@router.get("/lang")
async def switch_language(
    request: Request, to: Annotated[str, Query(max_length=5)] = "nb"
) -> Response:
    response = RedirectResponse("/me", status_code=303)
    if to in LANGS:
        response.set_cookie(LANG_COOKIE, to, max_age=365 * 24 * 3600, path="/", samesite="lax")
    return response
