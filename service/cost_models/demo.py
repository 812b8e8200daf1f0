"""The demo's cost model: one price list for every demo municipality, so the first
report shows kroner. Orientation figures, not a municipality's own: a real model is
set by the municipality's admin (``PUT /api/centres/{id}/cost-models/{municipality}``
or ``dho cost-model load``) from its own accounts.

Where the numbers come from (NOK, 2023-2024 levels, rounded):
- hospital_admission and hospital_bed_day: SAMDATA (Helsedirektoratet) puts the cost per
  DRG point at 61 672 kr in 2023, and the ISF unit price (enhetspris) for somatic care is
  52 248 kr in 2024. A medical admission of a COPD or heart-failure patient weighs about
  one DRG point; we split one point into a fixed part per admission (half, 30 800 kr)
  and a part per bed day (the other half over a mean stay of four days: 7 700 kr).
- nurse_hour: SSB's average monthly earnings of a registered nurse (about 56 000 kr in
  2024) with employer's tax and pension (about x 1.3), over about 1 650 productive hours a
  year a full-time nurse works: 650 kr per hour.
- emergency_primary_care_contact: a legevakt consultation at the normal tariff with the
  municipality's cost of the service per contact, as KPR-based municipal studies put it:
  about 1 800 kr.
- gp_consultation: the normal tariff's consultation fee, the patient's share and the
  per-capita grant spread over consultations: about 950 kr.
- home_care_hour: KOSTRA's gross running cost of home nursing per hour of service, about
  750 kr.
- municipal_acute_bed_day: the KAD grant covers about half of a KAD day's cost; the full
  cost is about 6 000 kr.
- running_cost_per_patient_month: kit on loan, tablet subscription, platform licence and
  the centre's share of overhead in the national DHO trial's evaluations: about 1 200 kr.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal, Role
from service.cost_models import repository
from service.cost_models import service as cost_models
from service.cost_models.schemas import CostModelWrite, Prices
from service.models_base import utcnow

PRICES = Prices(
    nurse_hour=650,
    hospital_bed_day=7_700,
    hospital_admission=30_800,
    emergency_primary_care_contact=1_800,
    gp_consultation=950,
    home_care_hour=750,
    municipal_acute_bed_day=6_000,
    running_cost_per_patient_month=1_200,
)
MODEL = CostModelWrite(
    valid_from=date(2024, 1, 1),
    prices=PRICES,
    sources=(
        "Demo: orientation figures. SAMDATA cost per DRG point 2023 (61 672 kr) split into "
        "admission and bed days; SSB nurse earnings with social costs; normal tariff (GP, "
        "legevakt); KOSTRA home nursing; KAD grant rules. See service/cost_models/demo.py."
    ),
)
LOADER = Principal(subject="demo-loader", role=Role.admin)


async def load(conn: AsyncConnection, centres: dict[str, list[str]]) -> int:
    """The demo price list for each centre's municipalities that has none: idempotent,
    and a price list an admin has set is never overwritten."""
    loaded = 0
    for centre_id, municipalities in centres.items():
        for municipality in municipalities:
            if await repository.versions(conn, centre_id, municipality):
                continue
            await cost_models.load(conn, LOADER, centre_id, municipality, MODEL, utcnow())
            loaded += 1
    return loaded
