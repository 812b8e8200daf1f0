"""The contract declares the error bodies the service really sends, for every route,
new ones included (``service.openapi_contract``); the fuzz test checks the answers."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter
from starlette.responses import Response

from service.app import create_app
from service.auth.deps import ObservationReader
from service.openapi_contract import API_ERROR, OPERATION_OUTCOME
from service.settings import Settings

API = {"application/json": {"schema": {"$ref": f"#/components/schemas/{API_ERROR}"}}}
FHIR = {"application/fhir+json": {"schema": {"$ref": f"#/components/schemas/{OPERATION_OUTCOME}"}}}


def _errors(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s: r for s, r in operation["responses"].items() if s[:1] in ("4", "5")}


def test_every_error_answer_is_declared_in_the_vocabulary_of_its_prefix() -> None:
    document = create_app(Settings()).openapi()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            errors = _errors(operation)
            assert {"400", "500", "503"} <= set(errors), (method, path)
            if operation.get("security"):
                assert {"401", "403"} <= set(errors), (method, path)
            for status, response in errors.items():
                if path.startswith("/fhir"):
                    assert response["content"] == FHIR, (method, path, status)
                elif not (path.startswith("/health") and status == "503"):
                    assert response["content"] == API, (method, path, status)
    assert "HTTPValidationError" not in str(document)


def test_an_api_validation_error_is_declared_as_the_body_the_service_sends() -> None:
    document = create_app(Settings()).openapi()
    operation = document["paths"]["/api/queue"]["get"]
    assert operation["responses"]["422"]["content"] == API
    api_error = document["components"]["schemas"][API_ERROR]
    assert set(api_error["required"]) == {"error", "detail"}
    assert api_error["additionalProperties"] is False


def test_fhir_answers_are_fhir_json_and_validation_is_a_400() -> None:
    document = create_app(Settings()).openapi()
    read = document["paths"]["/fhir/Observation/{observation_id}"]["get"]["responses"]
    assert "422" not in read  # a bad parameter on a FHIR route answers 400
    assert read["404"]["content"] == FHIR
    assert list(read["200"]["content"]) == ["application/fhir+json"]
    create = document["paths"]["/fhir/Observation"]["post"]["responses"]
    assert {"413", "415", "422"} <= set(create)


def test_a_route_added_tomorrow_gets_its_errors_declared_without_saying_so() -> None:
    app = create_app(Settings())
    api = APIRouter(prefix="/api/widgets")
    fhir = APIRouter(prefix="/fhir")

    @api.post("/{widget_id}")
    async def change_widget(
        widget_id: str, size: int, principal: ObservationReader
    ) -> dict[str, str]:
        return {}

    @fhir.get("/Widget/{widget_id}")
    async def read_widget(widget_id: str, principal: ObservationReader) -> Response:
        return Response()

    app.include_router(api)
    app.include_router(fhir)
    paths = app.openapi()["paths"]
    api_errors = _errors(paths["/api/widgets/{widget_id}"]["post"])
    assert set(api_errors) == {"400", "401", "403", "404", "413", "422", "500", "503"}
    assert all(r["content"] == API for r in api_errors.values())
    assert "WWW-Authenticate" in api_errors["401"]["headers"]
    fhir_errors = _errors(paths["/fhir/Widget/{widget_id}"]["get"])
    assert set(fhir_errors) == {"400", "401", "403", "404", "500", "503"}
    assert all(r["content"] == FHIR for r in fhir_errors.values())


def test_the_document_is_the_same_however_often_it_is_asked_for() -> None:
    app = create_app(Settings())
    first = str(app.openapi())
    assert str(app.openapi()) == first


async def test_the_served_contract_is_the_declared_one(client: httpx.AsyncClient) -> None:
    served = (await client.get("/openapi.json")).json()
    assert served == create_app(Settings()).openapi()


def test_a_fhir_search_declares_the_parameters_of_the_capability_statement() -> None:
    document = create_app(Settings()).openapi()
    search = document["paths"]["/fhir/Observation"]["get"]
    names = {p["name"] for p in search["parameters"] if p["in"] == "query"}
    assert {"patient", "subject", "code", "date", "_count", "_sort"} <= names
