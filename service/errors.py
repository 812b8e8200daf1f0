"""Errors of the non-FHIR API, and how every error reaches the client.

Two vocabularies, each with one handler:

* FHIR routes (``/fhir/...``) answer ``OperationOutcome`` (see ``service.fhirkit.outcome``).
* The rest of the API answers ``{"error": <code>, "detail": <text>}``.

``ApiError`` subclasses carry their status code. Raised under a FHIR route they are
answered as an ``OperationOutcome`` too, so the auth dependencies can be shared.
Unexpected exceptions answer 500 with the request id only; the traceback goes to the
log, which never holds personal data. An exception that says the database is away or
busy (a restart, a full pool, a deadlock victim) answers 503 with ``Retry-After``
instead: nothing was stored, and the same request will succeed shortly.

Every handler then hands the status to an optional ``on_refusal`` hook: the audit
trail records refused and failed requests too (``service.audit.refusals``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from service.fhirkit.outcome import FhirError, Issue, IssueCode, operation_outcome
from service.fhirkit.responses import FhirResponse
from service.request_context import current_request_id

log = logging.getLogger("dho.errors")


class ApiError(Exception):
    status_code: ClassVar[int] = 400
    error: ClassVar[str] = "bad_request"
    fhir_code: ClassVar[IssueCode] = "invalid"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}


class Unauthorized(ApiError):
    status_code = 401
    error = "unauthorized"
    fhir_code = "login"

    def __init__(self, detail: str) -> None:
        challenge = f'Bearer realm="dho", error="invalid_token", error_description="{detail}"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class Forbidden(ApiError):
    status_code = 403
    error = "forbidden"
    fhir_code = "forbidden"


class NotFound(ApiError):
    """Also the answer for what exists outside the caller's reach: existence must not leak."""

    status_code = 404
    error = "not_found"
    fhir_code = "not-found"


class Conflict(ApiError):
    """The resource is not in a state that allows this (claimed by another, stale version)."""

    status_code = 409
    error = "conflict"
    fhir_code = "conflict"


class Unprocessable(ApiError):
    """The body is well formed but a field's value is not acceptable; the detail names
    the field and says how to fix it (the same shape as a schema validation error)."""

    status_code = 422
    error = "invalid_request"
    fhir_code = "value"


# What a 503 tells the client to wait before trying again: about how long a PostgreSQL
# restart or a failover takes, short enough that a device's retry comes soon after.
RETRY_AFTER_SECONDS = 2


class Unavailable(ApiError):
    """Not now, try again: the database is away, the pool's queue is full, or a race
    went the other way. Answered with ``Retry-After`` so devices and clients back off;
    nothing of the request was stored."""

    status_code = 503
    error = "unavailable"
    fhir_code = "transient"

    def __init__(self, detail: str, *, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


def _is_fhir(request: Request) -> bool:
    return request.url.path.startswith("/fhir")


def _outcome_response(status: int, issues: list[Issue], headers: dict[str, str]) -> Response:
    return FhirResponse(operation_outcome(issues), status_code=status, headers=headers)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if _is_fhir(request):
        issue = Issue(exc.fhir_code, exc.detail)
        return _outcome_response(exc.status_code, [issue], exc.headers)
    body = {"error": exc.error, "detail": exc.detail}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _fhir_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FhirError)
    return FhirResponse(exc.outcome(), status_code=exc.status_code, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # Name the parameter, never echo its value.
    locations = [".".join(str(p) for p in error.get("loc", ())) for error in exc.errors()]
    detail = "invalid request: " + ", ".join(sorted(set(locations)))
    if _is_fhir(request):
        issues = [Issue("invalid", detail, tuple(sorted(set(locations))))]
        return _outcome_response(400, issues, {})
    return JSONResponse({"error": "invalid_request", "detail": detail}, status_code=422)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    text = exc.detail if isinstance(exc.detail, str) else "request refused"
    if _is_fhir(request):
        code: IssueCode = "not-found" if exc.status_code == 404 else "processing"
        return _outcome_response(exc.status_code, [Issue(code, text)], headers)
    return JSONResponse({"error": "http_error", "detail": text}, exc.status_code, headers=headers)


# SQLSTATE classes that mean "not now" rather than "wrong": connection exception (08),
# insufficient resources (53: too many connections), operator intervention (57: admin
# shutdown, the database is starting up), transaction rollback (40: deadlock, serialization).
_TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "53", "57", "40"})


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database is away or busy, so the request can be answered
    503 (try again) instead of 500. The pool drops connections that failed this way,
    so the service recovers by itself once the database is back."""
    if isinstance(exc, (sa_exc.TimeoutError, ConnectionError)):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        origin: BaseException | None = exc.orig
        while origin is not None:
            state = getattr(origin, "sqlstate", None)
            if isinstance(state, str) and state[:2] in _TRANSIENT_SQLSTATE_CLASSES:
                return True
            if isinstance(origin, ConnectionError):
                return True
            origin = origin.__cause__
        # SQLite: another writer held the lock longer than the busy timeout.
        return "database is locked" in str(exc.orig)
    return False


async def _unavailable(request: Request) -> Response:
    detail = "the service is briefly unavailable; try again shortly"
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if _is_fhir(request):
        return _outcome_response(503, [Issue("transient", detail)], headers)
    return JSONResponse({"error": "unavailable", "detail": detail}, 503, headers=headers)


async def _database_error(request: Request, exc: Exception) -> Response:
    """Database errors get a handler of their own, so a 503 is an answer, not a crash
    the server logs as one (the catch-all's errors are re-raised after answering)."""
    if database_unavailable(exc):
        log.warning("database unavailable", extra={"error_type": type(exc).__name__})
        return await _unavailable(request)
    return await _unexpected(request, exc)


async def _unexpected(request: Request, exc: Exception) -> Response:
    request_id = current_request_id()
    log.exception("unhandled error", extra={"error_type": type(exc).__name__})
    detail = f"internal error; quote request id {request_id}"
    if _is_fhir(request):
        return _outcome_response(500, [Issue("exception", detail)], {})
    return JSONResponse({"error": "internal", "detail": detail}, status_code=500)


Handler = Callable[[Request, Exception], Awaitable[Response]]
RefusalHook = Callable[[Request, int], Awaitable[None]]


def _reporting(handler: Handler, on_refusal: RefusalHook) -> Handler:
    """``handler``, then ``on_refusal`` with the status the client gets (the audit
    trail records refused and failed requests). A failing hook is logged, without
    personal data, and never changes the answer: a 404 stays a 404."""

    async def handle(request: Request, exc: Exception) -> Response:
        response = await handler(request, exc)
        try:
            await on_refusal(request, response.status_code)
        except Exception as error:
            log.error(
                "recording a refused request failed", extra={"error_type": type(error).__name__}
            )
        return response

    return handle


def install_handlers(app: FastAPI, on_refusal: RefusalHook | None = None) -> None:
    handlers: list[tuple[type[Exception], Handler]] = [
        (ApiError, _api_error),
        (FhirError, _fhir_error),
        (RequestValidationError, _validation_error),
        (StarletteHTTPException, _http_error),
        (sa_exc.SQLAlchemyError, _database_error),
        (ConnectionError, _database_error),
        (Exception, _unexpected),
    ]
    for exception_type, handler in handlers:
        if on_refusal is not None:
            handler = _reporting(handler, on_refusal)
        app.add_exception_handler(exception_type, handler)
