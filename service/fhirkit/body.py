"""Reading a FHIR request body without letting it hurt us.

A body is refused before it is parsed if it is too large (413), and after parsing if
it nests too deeply or holds too many values: fhir.resources would otherwise spend
seconds and hundreds of megabytes on a hostile 1 MiB array.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from starlette.requests import Request

from service.fhirkit.outcome import FhirError
from service.settings import Settings

ACCEPTED_MEDIA_TYPES = ("application/fhir+json", "application/json")


async def read_json_body(
    request: Request, *, max_bytes: int, max_depth: int, max_items: int
) -> tuple[dict[str, Any], bytes]:
    """The parsed body and its raw bytes (kept verbatim for storage)."""
    _check_media_type(request)
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise FhirError.one(400, "structure", "Content-Length is not a number")
        if int(declared) > max_bytes:
            raise _too_large(max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        chunks.append(chunk)
    raw = b"".join(chunks)
    return parse_json(raw, max_depth=max_depth, max_items=max_items), raw


async def read_fhir_body(request: Request, settings: Settings) -> tuple[dict[str, Any], bytes]:
    """``read_json_body`` with the limits configured for the service."""
    return await read_json_body(
        request,
        max_bytes=settings.max_body_bytes,
        max_depth=settings.max_json_depth,
        max_items=settings.max_json_items,
    )


async def read_bundle_body(request: Request, settings: Settings) -> tuple[dict[str, Any], bytes]:
    """``read_json_body`` with a Bundle's limits, which follow from its entry limit."""
    return await read_json_body(
        request,
        max_bytes=settings.bundle_max_body_bytes,
        max_depth=settings.max_json_depth,
        max_items=settings.bundle_max_json_items,
    )


def parse_json(raw: bytes, *, max_depth: int, max_items: int) -> dict[str, Any]:
    if not raw.strip():
        raise FhirError.one(400, "structure", "the request body is empty")
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        # orjson also refuses nesting beyond 1024 levels here, without recursion.
        raise FhirError.one(400, "structure", "the request body is not valid JSON") from None
    if not isinstance(document, dict):
        raise FhirError.one(400, "structure", "the request body must be a JSON object")
    _check_shape(document, max_depth=max_depth, max_items=max_items)
    if _ESCAPED_CONTROL.search(raw):
        _refuse_control_characters(document)
    return document


# FHIR strings may hold no character below U+0020 but tab, CR and LF. In JSON such a
# character can only arrive escaped; PostgreSQL refuses NUL in text outright.
_ESCAPED_CONTROL = re.compile(rb"\\u00(?:0[0-8bcefBCEF]|1[0-9a-fA-F])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _refuse_control_characters(document: dict[str, Any]) -> None:
    """Find the element that holds the character, to name it (the slow path only)."""
    stack: list[tuple[Any, str]] = [(document, str(document.get("resourceType") or "$"))]
    while stack:
        node, path = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in items:
            child_path = f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}"
            if isinstance(child, str) and (_CONTROL.search(child) or _CONTROL.search(str(key))):
                raise FhirError.one(
                    422,
                    "value",
                    "a string holds a control character FHIR does not allow",
                    child_path,
                )
            if isinstance(child, dict | list):
                stack.append((child, child_path))


def _check_shape(document: dict[str, Any], *, max_depth: int, max_items: int) -> None:
    """Iterative walk: depth and total number of values, no recursion to exhaust."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    items = 0
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise FhirError.one(400, "too-costly", f"the JSON nests deeper than {max_depth} levels")
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            items += 1
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
        if items > max_items:
            raise FhirError.one(400, "too-costly", f"the JSON holds more than {max_items} values")


def count_values(node: Any) -> int:
    """How many JSON values ``node`` holds below it (iterative, as ``_check_shape``)."""
    stack, count = [node], 0
    while stack:
        current = stack.pop()
        children = current.values() if isinstance(current, dict) else current
        for child in children:
            count += 1
            if isinstance(child, dict | list):
                stack.append(child)
    return count


def _check_media_type(request: Request) -> None:
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in ACCEPTED_MEDIA_TYPES:
        raise FhirError.one(
            415,
            "not-supported",
            "send FHIR JSON: Content-Type application/fhir+json or application/json",
        )


def _too_large(max_bytes: int) -> FhirError:
    return FhirError.one(413, "too-costly", f"the request body is larger than {max_bytes} bytes")
