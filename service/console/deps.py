"""Who is at the screen: the session cookie turned into the same ``Principal`` the API
uses, and the CSRF check of every form that changes something.

A page route takes ``page: ConsolePage`` (or ``form: ConsoleForm`` for a POST) and
answers through ``page.render``/``page.redirect``, which refresh the idle clock in the
cookie. Requests the page makes by itself (live updates) send ``X-DHO-Passive: 1``
and do not count as the nurse doing something: a screen left open still times out.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import Depends, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from service.auth.principal import Principal
from service.auth.tokens import InvalidToken
from service.console import pages
from service.console.i18n import Texts, pick
from service.console.session import (
    LANG_COOKIE,
    SESSION_COOKIE,
    Session,
    now,
    read_session,
    write_session,
)
from service.errors import ApiError
from service.state import AppState, app_state

PASSIVE_HEADER = "x-dho-passive"


class LoginRequired(Exception):
    """No session, or it timed out: to the login, then back to ``next_url``."""

    def __init__(self, next_url: str, *, expired: bool) -> None:
        super().__init__("login required")
        self.next_url = next_url
        self.expired = expired


class CsrfRefused(ApiError):
    status_code = 403
    error = "csrf"


class UnsupportedForm(ApiError):
    status_code = 415
    error = "unsupported_media_type"


def texts_for(request: Request) -> Texts:
    return Texts(pick(request.cookies.get(LANG_COOKIE)), app_state(request).local_zone)


def safe_next(target: str | None) -> str:
    """Only a path of the console: never another site (an open redirect)."""
    if not target or not target.startswith("/console") or target.startswith("//"):
        return "/console"
    if "\\" in target or any(ord(c) < 32 for c in target):
        return "/console"
    return target


def _where_she_was(request: Request) -> str:
    if request.method == "GET" and request.headers.get(PASSIVE_HEADER) != "1":
        query = f"?{request.url.query}" if request.url.query else ""
        return safe_next(request.url.path + query)
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc and referer.netloc != request.url.netloc:
        return "/console"
    return safe_next(referer.path + (f"?{referer.query}" if referer.query else ""))


@dataclass
class Page:
    request: Request
    state: AppState
    principal: Principal
    session: Session
    texts: Texts
    passive: bool

    def context(self, **values: Any) -> dict[str, Any]:
        return {
            "t": self.texts,
            "lang": self.texts.lang,
            "principal": self.principal,
            "csrf": self.session.csrf,
            "here": self.request.url.path
            + (f"?{self.request.url.query}" if self.request.url.query else ""),
            **values,
        }

    def render(self, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        response = pages.html(template, self.context(**values), status_code)
        self.finish(response)
        return response

    def redirect(self, url: str) -> RedirectResponse:
        response = RedirectResponse(safe_next(url), status_code=303)
        self.finish(response)
        return response

    def finish(self, response: Response) -> None:
        if not self.passive:
            write_session(response, self.state.settings, self.session.touched(now()))


async def console_page(request: Request) -> Page:
    state = app_state(request)
    session, expired = read_session(state.settings, request.cookies.get(SESSION_COOKIE), now())
    if session is None:
        raise LoginRequired(_where_she_was(request), expired=expired)
    try:
        principal = await state.verifier.verify(session.token)
    except InvalidToken:
        raise LoginRequired(_where_she_was(request), expired=True) from None
    request.state.principal = principal
    return Page(
        request=request,
        state=state,
        principal=principal,
        session=session,
        texts=texts_for(request),
        passive=request.headers.get(PASSIVE_HEADER) == "1",
    )


ConsolePage = Annotated[Page, Depends(console_page)]


@dataclass
class Form:
    page: Page
    fields: dict[str, list[str]]

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[0].strip() if values else default

    def all(self, name: str) -> list[str]:
        return [v for v in self.fields.get(name, []) if v]


async def read_form(request: Request) -> dict[str, list[str]]:
    """An HTML form post (urlencoded); the body size is bounded by the middleware."""
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise UnsupportedForm("a form post is expected")
    text = (await request.body()).decode("utf-8", errors="replace")
    fields: dict[str, list[str]] = {}
    for name, value in parse_qsl(text, keep_blank_values=True, max_num_fields=200):
        fields.setdefault(name, []).append(value)
    return fields


async def checked_form(request: Request, session: Session) -> dict[str, list[str]]:
    """A form post whose CSRF token is the session's (the console's and the tablet's)."""
    fields = await read_form(request)
    sent = (fields.get("csrf") or [""])[0]
    if not secrets.compare_digest(sent.encode(), session.csrf.encode()):
        raise CsrfRefused("the form's CSRF token does not match the session")
    return fields


async def console_form(request: Request, page: ConsolePage) -> Form:
    """A POST of the console: its CSRF token must be the session's."""
    fields = await checked_form(request, page.session)
    return Form(page=page, fields=fields)


ConsoleForm = Annotated[Form, Depends(console_form)]
