"""FHIR Organization: the follow-up centres the caller works in."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from service.auth.deps import OrganizationSearcher
from service.centres import repository
from service.deps import Db
from service.fhirkit.bundles import searchset
from service.fhirkit.responses import FhirResponse

router = APIRouter(prefix="/fhir", tags=["FHIR organizations"])

ORG_NUMBER_SYSTEM = "urn:oid:2.16.578.1.12.4.1.4.101"


def centre_to_fhir(row: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Organization",
        "id": row.id,
        "active": True,
        "name": row.name,
        "type": [{"text": "Oppfølgingstjeneste (follow-up centre)"}],
        "extension": [
            {
                "url": "https://fhir.dho.example/StructureDefinition/served-municipality",
                "valueCode": municipality,
            }
            for municipality in row.municipalities
        ],
    }
    if row.org_number:
        resource["identifier"] = [{"system": ORG_NUMBER_SYSTEM, "value": row.org_number}]
    return resource


@router.get("/Organization")
async def search_organizations(
    request: Request, principal: OrganizationSearcher, db: Db
) -> FhirResponse:
    rows = await repository.list_visible(db, principal)
    return FhirResponse(searchset(request, [centre_to_fhir(r) for r in rows], None))
