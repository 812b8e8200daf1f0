"""Search result Bundles and paging links."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.requests import Request

from service.fhirkit.outcome import FhirError


def searchset(
    request: Request, resources: list[dict[str, Any]], next_cursor: str | None
) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    links = [{"relation": "self", "url": str(request.url)}]
    if next_cursor is not None:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "_cursor"]
        params.append(("_cursor", next_cursor))
        links.append({"relation": "next", "url": f"{base}{request.url.path}?{urlencode(params)}"})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": [
            {
                "fullUrl": f"{base}/fhir/{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ],
    }


def encode_cursor(values: list[Any]) -> str:
    """Opaque keyset cursor: paging stays stable while new readings arrive."""
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any] | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = orjson.loads(raw)
    except (ValueError, orjson.JSONDecodeError):
        return None
    return values if isinstance(values, list) else None


def time_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    """The previous page's last (time, id), from the ``_cursor`` of a ``next`` link made
    by ``encode_cursor([time.isoformat(), id])``; a 400 naming ``_cursor`` if it is not
    one of ours."""
    if cursor is None:
        return None
    decoded = decode_cursor(cursor)
    try:
        if decoded is None or len(decoded) != 2:
            raise ValueError("not a cursor")
        moment = datetime.fromisoformat(str(decoded[0]))
        if moment.tzinfo is None:
            raise ValueError("a time without an offset")
        moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise FhirError.one(400, "invalid", "the paging cursor is not valid", "_cursor") from None
    return moment, str(decoded[1])
