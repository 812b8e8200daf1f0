"""``GET /fhir/metadata``: the CapabilityStatement kept in ``fhir/``, served as is."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request

from service.fhirkit.responses import FhirResponse
from service.settings import DEFAULT_FHIR_DIR
from service.state import app_state

router = APIRouter(prefix="/fhir", tags=["FHIR metadata"])


@lru_cache(maxsize=2)
def capability_statement(fhir_dir: Path = DEFAULT_FHIR_DIR) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        (fhir_dir / "CapabilityStatement.json").read_text(encoding="utf-8")
    )
    return document


@router.get("/metadata")
async def metadata(request: Request) -> FhirResponse:
    # The state is read from the request, not resolved as a dependency: this is the
    # cheapest route we have, and the benchmark's floor.
    return FhirResponse(capability_statement(app_state(request).settings.fhir_dir))
