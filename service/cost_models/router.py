"""``/api/centres/{centre_id}/cost-models/{municipality}``: a municipality's prices in
kroner, set by the centre's admins, read by whoever reads its evaluation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from service.auth.deps import EvaluationReader, OrganizationManager
from service.cost_models import service as cost_models
from service.cost_models.schemas import CostModelRead, CostModelWrite
from service.deps import Db
from service.models_base import utcnow

router = APIRouter(prefix="/api/centres", tags=["Cost models"])

Municipality = Annotated[
    str, Path(pattern=r"^[0-9]{4}$", description="kommunenummer the centre serves")
]


@router.put("/{centre_id}/cost-models/{municipality}")
async def put_cost_model(
    centre_id: str,
    municipality: Municipality,
    body: CostModelWrite,
    principal: OrganizationManager,
    db: Db,
) -> list[CostModelRead]:
    """Set the municipality's prices from ``valid_from`` on (an admin of the centre).
    The same ``valid_from`` again replaces that version; an earlier period keeps the
    prices valid then. Answers every version, newest first."""
    return await cost_models.put(db, principal, centre_id, municipality, body, utcnow())


@router.get("/{centre_id}/cost-models/{municipality}")
async def read_cost_model(
    centre_id: str, municipality: Municipality, principal: EvaluationReader, db: Db
) -> list[CostModelRead]:
    """Every version of the municipality's prices, newest first; an empty list when
    none is set (the evaluation then shows no kroner)."""
    return await cost_models.read(db, principal, centre_id, municipality)
