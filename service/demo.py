"""Demo data for ``make run``: two follow-up centres, 20 patients, a month of readings and
of the centre's work on them (``service.demo_work``).

Every patient gets a care plan with their protocol's defaults, so the readings are
triaged, and a few scripted stories (``STORIES``, ``SILENT``) give the queue items to
work. Readings go through the real gateway path
(transaction Bundles with conditional Patient and Device entries), so the demo also
shows what a gateway sends. Running it
twice adds nothing: centres are upserted, patients are found by identity number, and
readings carry identifiers, so repeats are deduplicated like any gateway retry.
The names are invented and the identity numbers synthetic-by-construction (valid
check digits, generated from fixed birth dates); they are not real people.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from service import demo_work
from service.auth.principal import DEFAULT_SCOPES, Principal, Role
from service.careplans import service as careplans
from service.careplans.schemas import CarePlanWrite, ScheduleSchema
from service.centres import repository as centres
from service.cost_models import demo as demo_costs
from service.fhirkit.catalogue import LOINC, MDC, UCUM
from service.fhirkit.outcome import FhirError
from service.ingest import bundle
from service.ingest.service import IngestContext
from service.patients import service as patients
from service.patients.identity_number import FNR_SYSTEM, generate_identity_number
from service.patients.identity_vault import IdentityVault
from service.questionnaires.forms import Forms, load_forms
from service.settings import DEFAULT_FHIR_DIR

CENTRES = [
    {
        "id": "salten",
        "name": "Oppfølgingstjenesten Salten",
        "org_number": None,
        "municipalities": ["1804", "1840", "1841"],
    },
    {
        "id": "trondheim",
        "name": "Trondheim kommune, digital hjemmeoppfølging",
        "org_number": None,
        "municipalities": ["5001"],
    },
]
GIVEN = ["Kari", "Ola", "Ingrid", "Per", "Solveig", "Arne", "Randi", "Knut", "Astrid", "Nils"]
FAMILY = ["Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen", "Berg"]
PROTOCOLS = ["heart_failure", "copd", "hypertension", "diabetes"]
DAYS = 30
# The centres of the demo ask their COPD and heart-failure patients the daily symptom form
# (the protocols leave it to the care plan): the tablet page then lists it every day.
_DAILY = ScheduleSchema(every_hours=24, window_hours=6, grace_hours=6)
DAILY_FORM: dict[str, dict[str, ScheduleSchema | None]] = {
    "copd": {"copd_more_breathless": _DAILY},
    "heart_failure": {"hf_orthopnoea": _DAILY},
}


async def load(engine: AsyncEngine, ctx: IngestContext, vault: IdentityVault) -> dict[str, int]:
    counts = {"patients_created": 0, "readings_created": 0, "items_resolved": 0}
    forms = load_forms(DEFAULT_FHIR_DIR)
    async with engine.begin() as conn:
        for centre in CENTRES:
            await centres.upsert(conn, centre)
        served = {str(c["id"]): c["municipalities"] for c in CENTRES}
        await demo_costs.load(conn, {k: v for k, v in served.items() if isinstance(v, list)})
    rng = random.Random(2026)  # noqa: S311 - demo data, not secrets
    for index in range(20):
        centre = CENTRES[index % 2]
        staff = Principal(
            subject="demo-loader",
            role=Role.nurse,
            centres=(str(centre["id"]),),
            scopes=frozenset(DEFAULT_SCOPES[Role.nurse]) | {"user/Observation.crs"},
        )
        fnr = generate_identity_number(date(1935 + index * 2, 1 + index % 12, 3 + index), 100)
        protocol = PROTOCOLS[index % len(PROTOCOLS)]
        centre_id = str(centre["id"])
        created: str | None = None  # the patient's id when this run enrolled them
        enrolled_at = ctx.now - timedelta(days=DAYS + 1)
        async with engine.begin() as conn:
            try:
                enrolled = await patients.enrol(
                    conn,
                    staff,
                    _patient(index, fnr, centre),
                    vault,
                    enrolled_at=enrolled_at,
                )
            except FhirError as error:
                if error.status_code != 409:
                    raise
            else:
                counts["patients_created"] += 1
                plan = CarePlanWrite(
                    protocol=protocol,
                    reason="Demo: protocol defaults, with the daily symptom form",
                    schedule=DAILY_FORM.get(protocol, {}),
                )
                await careplans.write(conn, staff, enrolled["id"], plan, enrolled_at)
                created = str(enrolled["id"])
        work = random.Random(index)  # noqa: S311 - demo data, not secrets
        for day in range(DAYS, 0, -1):
            when = (ctx.now - timedelta(days=day)).replace(
                hour=8, minute=rng.randint(0, 50), second=0, microsecond=0
            )
            if (index, day) in SILENT:
                continue
            entries = _gateway_bundle(index, fnr, protocol, when, rng, day)
            # Judged as if it arrived two minutes after it was taken, as a gateway's would.
            on_time = dataclasses.replace(ctx, now=when + timedelta(minutes=2))
            async with engine.begin() as conn:
                response = await bundle.process(
                    conn, staff, entries, on_time, vault, max_entries=50
                )
            counts["readings_created"] += sum(
                1
                for e in response["entry"]
                if e["response"]["status"].startswith("201")
                and e["response"]["location"].startswith("Observation/")
            )
            if created and day > demo_work.OPEN_DAYS:
                async with engine.begin() as conn:
                    if await demo_work.work_item(conn, centre_id, created, when, work):
                        counts["items_resolved"] += 1
        if created:
            await _outside_the_readings(engine, ctx, forms, centre_id, created, index, work)
    return counts


async def _outside_the_readings(
    engine: AsyncEngine,
    ctx: IngestContext,
    forms: Forms,
    centre_id: str,
    patient_id: str,
    index: int,
    rng: random.Random,
) -> None:
    """The planned calls, the stays and contacts outside the service, and the patient's
    first answer to the experience form."""
    enrolled_at = ctx.now - timedelta(days=DAYS + 1)
    myself = Principal(
        subject=patient_id, role=Role.patient, scopes=frozenset(DEFAULT_SCOPES[Role.patient])
    )
    async with engine.begin() as conn:
        await demo_work.planned_calls(conn, centre_id, patient_id, enrolled_at, ctx.now)
        await demo_work.outside_events(
            conn, centre_id, patient_id, index, enrolled_at, ctx.now, rng
        )
        await demo_work.experience_at_enrolment(
            conn, myself, patient_id, forms, ctx, enrolled_at + timedelta(hours=3), rng
        )


def _patient(index: int, fnr: str, centre: dict[str, Any]) -> dict[str, Any]:
    municipalities = centre["municipalities"]
    return {
        "resourceType": "Patient",
        "identifier": [{"system": FNR_SYSTEM, "value": fnr}],
        "name": [{"family": FAMILY[index % len(FAMILY)], "given": [GIVEN[index % len(GIVEN)]]}],
        "address": [{"district": municipalities[index % len(municipalities)]}],
        "managingOrganization": {"reference": f"Organization/{centre['id']}"},
    }


def _gateway_bundle(
    index: int, fnr: str, protocol: str, when: datetime, rng: random.Random, day: int
) -> dict[str, Any]:
    patient_url = f"urn:uuid:00000000-0000-4000-8000-{index:012d}"
    gateway = f"demo-gateway-{index:02d}"
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": patient_url,
            "resource": {
                "resourceType": "Patient",
                "identifier": [{"system": FNR_SYSTEM, "value": fnr}],
            },
            "request": {
                "method": "POST",
                "url": "Patient",
                "ifNoneExist": f"identifier={FNR_SYSTEM}|{fnr}",
            },
        }
    ]
    readings = _readings(protocol, rng, day)
    for (kind, position), reading in STORIES.get((index, day), {}).items():
        readings[kind][position] = reading
    bad_day = demo_work.episode(index, day, DAYS)
    if bad_day is not None:
        readings["bp-monitor"][0] = _bp(*bad_day)
    for kind, observations in readings.items():
        device_url = f"urn:uuid:00000000-0000-4000-9000-{index:08d}{len(entries):04d}"
        serial = f"{gateway}-{kind}"
        entries.append(
            {
                "fullUrl": device_url,
                "resource": {
                    "resourceType": "Device",
                    "identifier": [
                        {"system": "urn:oid:1.2.840.10004.1.1.1.0.0.1.0.0.1.2680", "value": serial}
                    ],
                    "type": {"coding": [{"system": MDC, "code": "65573", "display": kind}]},
                },
                "request": {"method": "POST", "url": "Device"},
            }
        )
        for code, display, value, unit, components in observations:
            resource: dict[str, Any] = {
                "resourceType": "Observation",
                "identifier": [
                    {"system": "urn:dho:demo", "value": f"{serial}-{code}-{when.isoformat()}"}
                ],
                "status": "final",
                "category": [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                "code": "vital-signs",
                            }
                        ]
                    }
                ],
                "code": {"coding": [{"system": _system(code), "code": code, "display": display}]},
                "subject": {"reference": patient_url},
                "device": {"reference": device_url},
                "effectiveDateTime": when.astimezone(UTC).isoformat(),
            }
            if components:
                resource["component"] = [
                    {
                        "code": {"coding": [{"system": LOINC, "code": c}]},
                        "valueQuantity": {"value": v, "unit": u, "system": UCUM, "code": u},
                    }
                    for c, v, u in components
                ]
            else:
                resource["valueQuantity"] = {
                    "value": value,
                    "unit": unit,
                    "system": UCUM,
                    "code": unit,
                }
            entries.append(
                {"resource": resource, "request": {"method": "POST", "url": "Observation"}}
            )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


Reading = tuple[str, str, float | None, str | None, list[tuple[str, float, str]] | None]
SCORES = "https://fhir.dho.example/CodeSystem/dho-scores"


def _system(code: str) -> str:
    return SCORES if code == "cat-total" else LOINC


def _bp(systolic: float, diastolic: float) -> Reading:
    parts = [("8480-6", systolic, "mm[Hg]"), ("8462-4", diastolic, "mm[Hg]")]
    return ("85354-9", "Blood pressure panel", None, None, parts)


def _single(code: str, display: str, value: float, unit: str) -> Reading:
    return (code, display, value, unit, None)


# What the nurse finds in the demo queue: (patient index, days ago) -> readings replaced
# (device kind, position). Every other reading is drawn inside its protocol's bands.
STORIES: dict[tuple[int, int], dict[tuple[str, int], Reading]] = {
    # Kari (heart failure): over 2 kg in three days, a yellow weight-gain trend.
    (0, 3): {("scale", 0): _single("29463-7", "Body weight", 80.4, "kg")},
    (0, 2): {("scale", 0): _single("29463-7", "Body weight", 81.4, "kg")},
    (0, 1): {("scale", 0): _single("29463-7", "Body weight", 82.7, "kg")},
    # Ola (COPD): SpO2 under 88 three mornings in a row, a yellow; then 84, red.
    (1, 4): {("oximeter", 0): _single("59408-5", "SpO2", 87, "%")},
    (1, 3): {("oximeter", 0): _single("59408-5", "SpO2", 86, "%")},
    (1, 2): {("oximeter", 0): _single("59408-5", "SpO2", 86, "%")},
    (1, 1): {("oximeter", 0): _single("59408-5", "SpO2", 84, "%")},
    # Ingrid (hypertension): systolic 186, red at once.
    (2, 1): {("bp-monitor", 0): _bp(186, 104)},
}
# Solveig (heart failure) stopped measuring three days ago: a missing-reading finding
# once the worker's scan runs (at start-up of `dho serve`).
SILENT = {(4, 3), (4, 2), (4, 1)}


def _readings(protocol: str, rng: random.Random, day: int) -> dict[str, list[Reading]]:
    bp: Reading = (
        "85354-9",
        "Blood pressure panel",
        None,
        None,
        [("8480-6", rng.randint(118, 150), "mm[Hg]"), ("8462-4", rng.randint(68, 90), "mm[Hg]")],
    )
    readings: dict[str, list[Reading]] = {"bp-monitor": [bp]}
    if protocol == "heart_failure":
        # Weighed every morning: a few hundred grams either way, never a trend.
        weight = round(79.5 + rng.uniform(-0.3, 0.3), 1)
        readings["scale"] = [("29463-7", "Body weight", weight, "kg", None)]
    if protocol == "copd":
        readings["oximeter"] = [
            ("59408-5", "SpO2", rng.randint(90, 95), "%", None),
            ("8867-4", "Heart rate", rng.randint(62, 96), "/min", None),
        ]
    if protocol == "copd" and day % 7 == 0:
        # The weekly COPD Assessment Test, answered on the same tablet that relays the
        # oximeter (a device heard only weekly would be reported silent).
        cat = _single("cat-total", "CAT score", rng.randint(8, 18), "{score}")
        readings["oximeter"].append(cat)
    if protocol == "diabetes":
        readings["glucometer"] = [
            ("14743-9", "Glucose", round(rng.uniform(4.5, 11.0), 1), "mmol/L", None)
        ]
    return readings
