"""``GET /fhir/metadata``: the CapabilityStatement kept in ``fhir/``, with this deployment's
Bundle limits.

The file states the default limits; an operator who sets ``DHO_BUNDLE_MAX_ENTRIES`` (or the
body limits) changes what the service accepts, so the served statement must say the same
numbers in its ``bundle-limits`` extension, or a gateway vendor would size its uploads by
a promise the service does not keep.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request

from service.fhirkit.responses import FhirResponse
from service.settings import DEFAULT_FHIR_DIR, Settings
from service.state import app_state

router = APIRouter(prefix="/fhir", tags=["FHIR metadata"])

LIMITS_URL = "https://fhir.dho.example/StructureDefinition/bundle-limits"


@lru_cache(maxsize=2)
def capability_statement(fhir_dir: Path = DEFAULT_FHIR_DIR) -> dict[str, Any]:
    """The statement as kept in ``fhir/``, with the default limits."""
    document: dict[str, Any] = json.loads(
        (fhir_dir / "CapabilityStatement.json").read_text(encoding="utf-8")
    )
    return document


def bundle_limits(settings: Settings) -> dict[str, int]:
    """What the Bundle routes enforce, by the extension's names."""
    return {
        "maxEntries": settings.bundle_max_entries,
        "maxBytes": settings.bundle_max_body_bytes,
        "maxValues": settings.bundle_max_json_items,
        "maxEntryBytes": settings.max_body_bytes,
        "maxEntryValues": settings.max_json_items,
        "maxDepth": settings.max_json_depth,
    }


@lru_cache(maxsize=4)
def served_statement(fhir_dir: Path, limits: tuple[tuple[str, int], ...]) -> dict[str, Any]:
    """The kept statement with every ``bundle-limits`` extension set to ``limits``."""
    document = copy.deepcopy(capability_statement(fhir_dir))
    values = dict(limits)
    for rest in document.get("rest", []):
        for interaction in rest.get("interaction", []):
            for extension in interaction.get("extension", []):
                if extension.get("url") != LIMITS_URL:
                    continue
                for limit in extension["extension"]:
                    limit["valueUnsignedInt"] = values[limit["url"]]
    return document


@router.get("/metadata")
async def metadata(request: Request) -> FhirResponse:
    # The state is read from the request, not resolved as a dependency: this is the
    # cheapest route we have, and the benchmark's floor. Both lookups are cached.
    settings = app_state(request).settings
    limits = tuple(bundle_limits(settings).items())
    return FhirResponse(served_statement(settings.fhir_dir, limits))
