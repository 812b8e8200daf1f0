"""One pure-ASGI middleware for every request: request id, security headers, access log,
and the refusals that need no route (control characters, bodies over the size limit).

Pure ASGI rather than ``BaseHTTPMiddleware``: it adds no task or stream copy per
request, which the ingest benchmark notices.
"""

from __future__ import annotations

import logging
import re
import time
from urllib.parse import unquote_to_bytes
from uuid import uuid4

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.request_context import set_client_address, set_request_id

log = logging.getLogger("dho.access")

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# A client's request id goes into logs and the audit trail: not if it could be an
# identity number (11 digits, as a fødselsnummer).
_IDENTITY_NUMBER = re.compile(r"(?<!\d)\d{11}(?!\d)")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
]
# The console's and the tablet's pages load our own script, style sheet and partials, and post forms
# to themselves; nothing inline, nothing from elsewhere.
PAGE_CSP = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    b"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PAGE_SECURITY_HEADERS = [
    (b"content-security-policy", PAGE_CSP) if name == b"content-security-policy" else (name, value)
    for name, value in SECURITY_HEADERS
]
PAGE_PREFIXES = ("/console", "/dev-issuer", "/me/")
PAGE_PATHS = ("/me",)


class RequestMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int = 1024 * 1024,
        bundle_max_body_bytes: int | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # POST /fhir takes a gateway's Bundle, which may be larger (Settings).
        self.bundle_max_body_bytes = bundle_max_body_bytes or max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        set_request_id(request_id)
        client = scope.get("client")
        set_client_address(client[0] if client else None)
        if _has_control_characters(scope):
            detail = "control characters are not allowed in the path or the query"
            await _refuse(scope, send, request_id, 400, detail)
            return
        limit = self.bundle_max_body_bytes if _is_bundle(scope) else self.max_body_bytes
        if _declared_too_large(scope, limit):
            # Every route, /api as well as /fhir: no body over the limit is read at all.
            detail = f"the request body is larger than {limit} bytes"
            await _refuse(scope, send, request_id, 413, detail)
            return
        if _api_body(scope):
            bounded = await _bounded(receive, self.max_body_bytes)
            if bounded is None:
                detail = f"the request body is larger than {self.max_body_bytes} bytes"
                await _refuse(scope, send, request_id, 413, detail)
                return
            receive, body = bounded
            if _is_text_body(scope) and _NUL.search(body):
                detail = "the request body holds a NUL character, which no text of ours may hold"
                await _refuse(scope, send, request_id, 400, detail)
                return
        started = time.perf_counter()
        status = 500
        path = scope.get("path", "")
        is_page = path.startswith(PAGE_PREFIXES) or path in PAGE_PATHS
        security = PAGE_SECURITY_HEADERS if is_page else SECURITY_HEADERS

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                headers.extend(security)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            route = scope.get("route")
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "route": getattr(route, "path", "unmatched"),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )


def _has_control_characters(scope: Scope) -> bool:
    """NUL and other control characters in the path or query: no identifier or search
    value of ours holds one, and PostgreSQL refuses NUL in text with an error."""
    query = unquote_to_bytes(scope.get("query_string", b""))
    path: str = scope.get("path", "")
    return any(ord(c) < 0x20 for c in path) or any(b < 0x20 for b in query)


def _is_bundle(scope: Scope) -> bool:
    return scope["method"] == "POST" and scope.get("path") == "/fhir"


def _declared_too_large(scope: Scope, limit: int) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return not value.isdigit() or len(value) > 15 or int(value) > limit
    return False


# A NUL as JSON writes it, as a form writes it, or raw. PostgreSQL refuses NUL in text
# with an error, so a body holding one would fail mid-transaction instead of at the door.
_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000|%00|\x00")


def _api_body(scope: Scope) -> bool:
    """A body on a non-FHIR route: read ahead, within the limit, and checked for NUL
    (FHIR routes read their body through ``read_fhir_body``, which counts as it reads
    and names the element that holds a control character). These bodies are small
    forms and settings, never the ingest path."""
    return not scope.get("path", "").startswith("/fhir") and scope["method"] not in (
        "GET",
        "HEAD",
    )


def _is_text_body(scope: Scope) -> bool:
    """Anything but an upload: a multipart form or an image may hold NUL bytes as data;
    JSON (of any flavour) and forms never mean one."""
    for name, value in scope["headers"]:
        if name == b"content-type" and value.lower().startswith(_BINARY_TYPES):
            return False
    return True


_BINARY_TYPES = (b"multipart/", b"image/", b"application/octet-stream")


async def _bounded(receive: Receive, limit: int) -> tuple[Receive, bytes] | None:
    """The whole body read ahead, if it is within ``limit``, with a receive that replays
    it; None if it is not."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        if size > limit:
            return None
        if not message.get("more_body", False):
            break

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return replay, b"".join(m.get("body", b"") for m in messages)


async def _refuse(scope: Scope, send: Send, request_id: str, status: int, detail: str) -> None:
    if scope.get("path", "").startswith("/fhir"):
        body: dict[str, object] = {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "error",
                    "code": "too-costly" if status == 413 else "invalid",
                    "diagnostics": detail,
                }
            ],
        }
        media_type = b"application/fhir+json"
    else:
        error = "payload_too_large" if status == 413 else "invalid_request"
        body, media_type = {"error": error, "detail": detail}, b"application/json"
    content = orjson.dumps(body)
    headers = [
        (b"content-type", media_type),
        (b"content-length", str(len(content)).encode()),
        (b"x-request-id", request_id.encode()),
        *SECURITY_HEADERS,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text: str = value.decode("latin-1")
            if _SAFE_REQUEST_ID.match(text) and not _IDENTITY_NUMBER.search(text):
                return text
    return uuid4().hex
