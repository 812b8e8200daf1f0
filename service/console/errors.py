"""Errors on console and tablet pages: a page in the reader's language, never a stack
trace.

The API's handlers still run first (they decide the status and record refusals in the
audit trail); under ``/console`` and ``/me`` their JSON answer is then replaced by a page that
says, in words, what happened and what to do. The API's own detail text is never
shown: it is English, and written for programs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from service.console import pages
from service.console.auth_routes import login_redirect
from service.console.deps import PASSIVE_HEADER, CsrfRefused, LoginRequired, texts_for
from service.request_context import current_request_id
from service.tablet.deps import TEMPLATES as TABLET_TEMPLATES
from service.tablet.deps import TabletLoginRequired

Handler = Callable[[Request, Exception], Awaitable[Response]]

_MESSAGES = {
    400: "errors.bad_request",
    403: "errors.forbidden",
    404: "errors.not_found",
    405: "errors.bad_request",
    409: "errors.conflict",
    413: "errors.too_large",
    415: "errors.bad_request",
    422: "errors.bad_request",
}


def _is_tablet(request: Request) -> bool:
    path = request.url.path
    return path == "/me" or path.startswith("/me/")


def _is_console(request: Request) -> bool:
    return request.url.path.startswith("/console") or _is_tablet(request)


def error_page(request: Request, status: int, key: str | None = None) -> Response:
    if request.headers.get(PASSIVE_HEADER) == "1":
        return PlainTextResponse(str(status), status_code=status)
    texts = texts_for(request)
    message = key or _MESSAGES.get(status, "errors.internal")
    context = {
        "t": texts,
        "lang": texts.lang,
        "status": status,
        "message": texts(message),
        "request_id": current_request_id(),
        # Not the address asked for: an error page echoes nothing of what it refused.
        "here": "/me" if _is_tablet(request) else "/console",
    }
    if _is_tablet(request):
        return pages.html("error.html", context, status, templates=TABLET_TEMPLATES)
    return pages.html("error.html", context, status)


def _console_aware(original: Handler) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        response = await original(request, exc)
        if not _is_console(request):
            return response
        key = "errors.csrf" if isinstance(exc, CsrfRefused) else None
        return error_page(request, response.status_code, key)

    return handle


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    if request.headers.get(PASSIVE_HEADER) == "1":
        return PlainTextResponse("login required", status_code=401)
    return RedirectResponse(login_redirect(exc.next_url, expired=exc.expired), status_code=303)


async def _tablet_login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TabletLoginRequired)
    return RedirectResponse("/me/login?why=expired" if exc.expired else "/me/login", 303)


def install(app: FastAPI) -> None:
    """Wrap the handlers already installed (``service.errors.install_handlers``)."""
    for exception_type, handler in list(app.exception_handlers.items()):
        app.exception_handlers[exception_type] = _console_aware(handler)  # type: ignore[arg-type]
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(TabletLoginRequired, _tablet_login_required)
