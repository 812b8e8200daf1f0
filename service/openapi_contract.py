"""The error answers of every operation, declared in the OpenAPI contract in one place.

FastAPI declares what a route returns when it succeeds, and for a failed validation
its own ``HTTPValidationError``, which this service never sends (``service.errors``
answers ``{"error", "detail"}`` on ``/api`` and an ``OperationOutcome`` on ``/fhir``).
Rather than each route repeating the truth, ``declare_errors`` rewrites the generated
document once, from what the service's plumbing does to every route:

* every operation can answer 400 (the middleware refuses control characters; FHIR
  routes answer a failed validation with 400), 500 (an unexpected error) and 503 with
  ``Retry-After`` (the database away, or the process's pool queue full);
* an operation behind a bearer token (``service.auth.deps.BearerToken`` declares its
  ``security``) answers 401 and 403;
* one with path parameters answers 404 (missing, or outside the caller's reach);
* one that takes a body (POST, PUT, PATCH) answers 413 over the size limit;
* a FHIR route reading a resource body answers 415 and 422;
* an ``/api`` route with parameters or a body answers 422 (FastAPI's validation).

Statuses only a route knows (409, 412, 429, a 404 on a query) the route declares by
status and description (``responses={409: {"description": ...}}``); the body of every
error status is filled in here, in the vocabulary of the route's prefix. A FHIR route's
successful answers are ``application/fhir+json`` resources unless it declares a model,
and a FHIR search (``GET /fhir/<Type>``) takes the search parameters the
CapabilityStatement lists for that type (routes read them from the query string, so
FastAPI cannot see them).
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import FastAPI

from service.capability import capability_statement
from service.fhirkit.responses import FHIR_JSON

API_ERROR = "ApiError"
OPERATION_OUTCOME = "OperationOutcome"
FHIR_RESOURCE = "FhirResource"

_SCHEMAS: dict[str, dict[str, Any]] = {
    API_ERROR: {
        "title": API_ERROR,
        "description": "Every error of the /api routes (service.errors).",
        "type": "object",
        "required": ["error", "detail"],
        "properties": {
            "error": {"type": "string", "description": "a stable code, e.g. not_found"},
            "detail": {"type": "string", "description": "what went wrong, for a person"},
        },
        "additionalProperties": False,
    },
    OPERATION_OUTCOME: {
        "title": OPERATION_OUTCOME,
        "description": "Every error of the /fhir routes; expression names the element.",
        "type": "object",
        "required": ["resourceType", "issue"],
        "properties": {
            "resourceType": {"const": OPERATION_OUTCOME},
            "issue": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["severity", "code"],
                    "properties": {
                        "severity": {"enum": ["fatal", "error", "warning", "information"]},
                        "code": {"type": "string"},
                        "diagnostics": {"type": "string"},
                        "expression": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
    },
    FHIR_RESOURCE: {
        "title": FHIR_RESOURCE,
        "description": "A FHIR R4 resource in JSON (see fhir/CapabilityStatement.json).",
        "type": "object",
        "required": ["resourceType"],
        "properties": {"resourceType": {"type": "string"}},
    },
}
# Our own words, not http.HTTPStatus's phrases: those change between Python versions,
# and the committed contract must not.
_DESCRIPTIONS = {
    400: "Bad request: a malformed parameter, header or body",
    401: "No valid bearer token",
    403: "The token's role or scopes do not allow this",
    404: "Not found, or outside the caller's reach (the same answer)",
    409: "Conflict with the current state",
    412: "Precondition failed",
    413: "The request body is over the size limit",
    415: "Unsupported media type",
    422: "The request is well formed but its content is refused",
    429: "Too many requests: come back later",
    500: "Internal error: quote the request id",
    503: "Briefly unavailable (database away, or overloaded): retry after Retry-After seconds",
}
_FASTAPI_VALIDATION = "#/components/schemas/HTTPValidationError"
_FHIR_SEARCH = re.compile(r"^/fhir/([A-Z][A-Za-z]+)$")
_BODY_METHODS = frozenset({"post", "put", "patch"})
_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options"})


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and so ``/openapi.json`` and ``make openapi``) declare
    the error answers."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        return declare_errors(generate())

    app.openapi = openapi  # type: ignore[method-assign]


def declare_errors(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with every operation's error answers declared; idempotent (FastAPI
    hands back its cached document, already rewritten, on a second call)."""
    searches = _search_parameters()
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            search = _FHIR_SEARCH.match(path)
            if method == "get" and search is not None:
                _declare_search(operation, searches.get(search.group(1), []))
            _declare(path, method, operation)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(_SCHEMAS)
    if _FASTAPI_VALIDATION not in json.dumps(document.get("paths", {})):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
    return document


def _search_parameters() -> dict[str, list[dict[str, Any]]]:
    rest = capability_statement().get("rest", [{}])[0]
    return {r["type"]: r.get("searchParam", []) for r in rest.get("resource", [])}


def _declare_search(operation: dict[str, Any], parameters: list[dict[str, Any]]) -> None:
    declared = operation.setdefault("parameters", [])
    names = {p["name"] for p in declared}
    for parameter in parameters:
        if parameter["name"] in names:
            continue
        declared.append(
            {
                "name": parameter["name"],
                "in": "query",
                "required": False,
                "description": f"FHIR search parameter of type {parameter['type']}",
                "schema": {"type": "string"},
            }
        )


def _declare(path: str, method: str, operation: dict[str, Any]) -> None:
    fhir = path == "/fhir" or path.startswith("/fhir/")
    responses: dict[str, Any] = operation.setdefault("responses", {})
    validation = responses.get("422", {})
    if _refers_to(validation, _FASTAPI_VALIDATION):
        # FastAPI's own 422: on /api our handler answers it in our vocabulary; on /fhir
        # a failed validation answers 400, declared below for every operation.
        del responses["422"]
        if not fhir:
            responses["422"] = {"description": validation.get("description", "")}
    statuses = {400, 500, 503}
    if operation.get("security"):
        statuses |= {401, 403}
    if any(p.get("in") == "path" for p in operation.get("parameters", ())):
        statuses.add(404)
    if method in _BODY_METHODS:
        statuses.add(413)
    if fhir and FHIR_JSON in operation.get("requestBody", {}).get("content", {}):
        statuses |= {415, 422}
    for code in statuses:
        responses.setdefault(str(code), {})
    for key, response in responses.items():
        if key[:1] in ("4", "5"):
            _fill_error(int(key), response, fhir)
        elif fhir and key[:1] == "2":
            _fill_fhir_success(response)


def _fill_error(status: int, response: dict[str, Any], fhir: bool) -> None:
    if not response.get("description") or response["description"] == "Validation Error":
        response["description"] = _DESCRIPTIONS.get(status, "Error")
    if "content" not in response:
        media, schema = (FHIR_JSON, OPERATION_OUTCOME) if fhir else ("application/json", API_ERROR)
        response["content"] = {media: {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
    if status == 401:
        response.setdefault("headers", {})["WWW-Authenticate"] = {
            "description": "the bearer challenge, naming what was wrong with the token",
            "schema": {"type": "string"},
        }
    if status == 503:
        response.setdefault("headers", {})["Retry-After"] = {
            "description": "seconds to wait before sending the same request again",
            "schema": {"type": "integer"},
        }


def _fill_fhir_success(response: dict[str, Any]) -> None:
    """FastAPI knows no FHIR: a route returning ``FhirResponse`` is declared as JSON, or
    as a string, of any shape. It is a FHIR resource in ``application/fhir+json``."""
    content = response.get("content", {})
    for media in ("application/json", FHIR_JSON):
        declared = content.get(media)
        if declared is not None and declared.get("schema") in ({}, {"type": "string"}):
            del content[media]
            content[FHIR_JSON] = {"schema": {"$ref": f"#/components/schemas/{FHIR_RESOURCE}"}}


def _refers_to(response: dict[str, Any], ref: str) -> bool:
    return any(
        media.get("schema", {}).get("$ref") == ref for media in response.get("content", {}).values()
    )
