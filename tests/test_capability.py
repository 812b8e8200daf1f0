"""The CapabilityStatement in fhir/ promises exactly what the routes do."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx

from service.app import create_app
from service.capability import capability_statement
from service.fhirkit.catalogue import load_catalogue
from service.settings import DEFAULT_FHIR_DIR, Settings

INTERACTION_ROUTES = {
    "create": ("POST", "/fhir/{type}"),
    "read": ("GET", "/fhir/{type}/{id}"),
    "search-type": ("GET", "/fhir/{type}"),
    "update": ("PUT", "/fhir/{type}/{id}"),
    "vread": ("GET", "/fhir/{type}/{id}/_history/{vid}"),
}


def _routes() -> set[tuple[str, str]]:
    """Every (method, path) the application serves, as its OpenAPI document lists them."""
    paths = create_app(Settings()).openapi()["paths"]
    routes: set[tuple[str, str]] = set()
    for path, operations in paths.items():
        generic = path
        for name in (
            "{observation_id}",
            "{patient_id}",
            "{study_id}",
            "{device_id}",
            "{questionnaire_id}",
            "{response_id}",
            "{communication_id}",
        ):
            generic = generic.replace(name, "{id}")
        generic = generic.replace("{version_id}", "{vid}")
        routes.update((method.upper(), generic) for method in operations)
    return routes


def test_every_declared_interaction_has_a_route_and_back() -> None:
    statement: dict[str, Any] = capability_statement()
    routes = _routes()
    declared: set[tuple[str, str]] = {("GET", "/fhir/metadata"), ("POST", "/fhir")}
    for resource in statement["rest"][0]["resource"]:
        for interaction in resource["interaction"]:
            method, template = INTERACTION_ROUTES[interaction["code"]]
            declared.add((method, template.replace("{type}", resource["type"])))
        if resource.get("conditionalUpdate"):
            declared.add(("PUT", f"/fhir/{resource['type']}"))
        for operation in resource.get("operation", []):
            # Bulk Data kick-off: both GET and POST (FHIR Bulk Data Access IG).
            path = f"/fhir/{resource['type']}/{{id}}/${operation['name']}"
            declared.update({("GET", path), ("POST", path)})
    # The polling and download URLs of an export are handed out in its answers
    # (Content-Location, the manifest), not FHIR resource routes to declare.
    handed_out = ("/fhir/bulk-status/", "/fhir/bulk-files/")
    fhir_routes = {
        r for r in routes if r[1].startswith("/fhir") and not r[1].startswith(handed_out)
    }
    assert declared == fhir_routes


def test_whole_system_interactions_are_served() -> None:
    codes = {i["code"] for i in capability_statement()["rest"][0]["interaction"]}
    assert codes == {"transaction", "batch"}


def test_catalogue_codes_are_all_recognised() -> None:
    catalogue = load_catalogue()
    for measurement in catalogue.measurements:
        for system, code in measurement.codings:
            assert catalogue.find([{"system": system, "code": code}]) is measurement


async def test_metadata_needs_no_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/fhir/metadata")
    assert response.status_code == 200
    assert response.json()["resourceType"] == "CapabilityStatement"
    assert (await client.get("/health")).json()["database"] == "up"


async def test_metadata_is_read_from_the_configured_fhir_folder(
    settings: Settings, tmp_path: Path
) -> None:
    for name in ("catalogue.json", "CapabilityStatement.json"):
        shutil.copy(DEFAULT_FHIR_DIR / name, tmp_path / name)
    statement = json.loads((tmp_path / "CapabilityStatement.json").read_text())
    statement["title"] = "A deployment's own contract"
    (tmp_path / "CapabilityStatement.json").write_text(json.dumps(statement))
    app = create_app(settings.model_copy(update={"fhir_dir": tmp_path}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dho.test") as client:
            response = await client.get("/fhir/metadata")
    assert response.json()["title"] == "A deployment's own contract"
