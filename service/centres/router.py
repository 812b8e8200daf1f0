"""Follow-up centres: FHIR Organization (read), and the admins' API that creates and
changes them (``/api/centres``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from service.auth.deps import (
    OrganizationCreator,
    OrganizationManager,
    OrganizationReader,
    OrganizationSearcher,
)
from service.centres import repository
from service.centres import service as centres
from service.centres.schemas import CentreCreate, CentreRead, CentreUpdate
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


api_router = APIRouter(prefix="/api/centres", tags=["Centres"])


@api_router.post("", status_code=201)
async def create_centre(body: CentreCreate, principal: OrganizationCreator, db: Db) -> CentreRead:
    """Register a follow-up centre (admins). Tokens then name it by ``id``."""
    return await centres.create(db, principal, body)


@api_router.get("")
async def list_centres(principal: OrganizationSearcher, db: Db) -> list[CentreRead]:
    """The centres the caller works in."""
    return await centres.list_visible(db, principal)


@api_router.get("/{centre_id}")
async def read_centre(centre_id: str, principal: OrganizationReader, db: Db) -> CentreRead:
    return await centres.read(db, principal, centre_id)


@api_router.patch("/{centre_id}")
async def update_centre(
    centre_id: str, body: CentreUpdate, principal: OrganizationManager, db: Db
) -> CentreRead:
    """Change a centre's details or service levels: an admin of that centre only."""
    return await centres.update(db, principal, centre_id, body)
