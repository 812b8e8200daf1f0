"""Who holds the tablet: the tablet's session cookie turned into the patient's
``Principal``, and the CSRF check of every form that sends something.

The same machinery as the console's (``service.console.session``), through another
door: cookies under ``/me``, sealed with keys of their own, a week's idle time. Only a
patient's token passes; a nurse who opens ``/me`` is sent to the console.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from service.auth.principal import Principal, Role
from service.auth.tokens import InvalidToken
from service.console import pages
from service.console.deps import checked_form, texts_for
from service.console.i18n import Texts
from service.console.session import TABLET, Session, now, read_session, write_session
from service.state import AppState, app_state

TEMPLATES = Path(__file__).resolve().parent / "templates"


class TabletLoginRequired(Exception):
    """No session, it timed out, or the token is not a patient's: to the login."""

    def __init__(self, *, expired: bool) -> None:
        super().__init__("login required")
        self.expired = expired


def render(request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
    """A page without a session (the login)."""
    texts = texts_for(request)
    base = {"t": texts, "lang": texts.lang, "here": request.url.path}
    return pages.html(template, {**base, **context}, status, templates=TEMPLATES)


@dataclass
class Page:
    request: Request
    state: AppState
    principal: Principal
    session: Session
    texts: Texts

    @property
    def patient_id(self) -> str:
        return self.principal.subject

    def render(self, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        context = {
            "t": self.texts,
            "lang": self.texts.lang,
            "csrf": self.session.csrf,
            "here": self.request.url.path,
            **values,
        }
        response = pages.html(template, context, status_code, templates=TEMPLATES)
        self.finish(response)
        return response

    def redirect(self, url: str) -> RedirectResponse:
        target = url if url.startswith("/me") and not url.startswith("//") else "/me"
        response = RedirectResponse(target, status_code=303)
        self.finish(response)
        return response

    def finish(self, response: Response) -> None:
        write_session(response, self.state.settings, self.session.touched(now()), TABLET)


async def tablet_page(request: Request) -> Page:
    state = app_state(request)
    session, expired = read_session(
        state.settings,
        request.cookies.get(TABLET.session_cookie),
        now(),
        TABLET,
        state.settings.tablet_idle_minutes,
    )
    if session is None:
        raise TabletLoginRequired(expired=expired)
    try:
        principal = await state.verifier.verify(session.token)
    except InvalidToken:
        raise TabletLoginRequired(expired=True) from None
    if principal.role is not Role.patient:
        raise TabletLoginRequired(expired=False)
    request.state.principal = principal
    return Page(request, state, principal, session, texts_for(request))


TabletPage = Annotated[Page, Depends(tablet_page)]


@dataclass
class Form:
    page: Page
    fields: dict[str, list[str]]

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[0].strip() if values else default


async def tablet_form(request: Request, page: TabletPage) -> Form:
    """A POST of the tablet page: its CSRF token must be the session's. A reading kept on
    the tablet while offline is resent with the token it was written with, which still
    matches as long as the session lasts."""
    return Form(page=page, fields=await checked_form(request, page.session))


TabletForm = Annotated[Form, Depends(tablet_form)]
