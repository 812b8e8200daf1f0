"""A population to measure against: patients of several centres, with care plans of all
four protocols and a history of readings, findings and resolved items.

The ingest benchmark's headline figures and ``make bench-scale`` both stand on it. A
service measured on ten patients with empty tables measures its best case: the indexes
fit in a page, the history query finds nothing, one patient's item is always open. The
patients are enrolled through the service's own code and the readings made by the export
benchmark's set-based SQL (``bench/export.py``), spread over each patient's follow-up.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

import alerts
from bench import export
from service.database import create_engine
from service.fhirkit.catalogue import load_catalogue
from service.models_base import utcnow
from service.patients.identity_vault import vault_from_settings
from service.settings import Settings

# Four centres of four counties; their municipalities are real ones of each county.
CENTRES: tuple[dict[str, Any], ...] = (
    {"id": "bodo", "name": "Bodø", "org_number": None, "municipalities": ["1804", "1838"]},
    {"id": "tromso", "name": "Tromsø", "org_number": None, "municipalities": ["5501", "5503"]},
    {"id": "bergen", "name": "Bergen", "org_number": None, "municipalities": ["4601", "4602"]},
    {"id": "hamar", "name": "Hamar", "org_number": None, "municipalities": ["3403", "3405"]},
)


# What ingest keeps for the missing-reading scan, for the readings made set-based (as
# migration 0021 fills it for readings stored before it).
LAST_SEEN_SQL = (
    """INSERT INTO reading_last_seen (patient_id, measurement, centre_id, last_at)
    SELECT patient_id, measurement, min(centre_id), max(effective_at) FROM observation
    WHERE kind = 'measurement' AND status != 'entered-in-error'
    GROUP BY patient_id, measurement
    ON CONFLICT (patient_id, measurement) DO UPDATE SET last_at = excluded.last_at
    WHERE excluded.last_at > reading_last_seen.last_at""",
    """INSERT INTO device_last_heard (patient_id, device_id, centre_id, last_at)
    SELECT patient_id, device_id, min(centre_id), max(received_at) FROM observation
    WHERE device_id IS NOT NULL AND (not_judged IS NULL OR not_judged != 'history')
    GROUP BY patient_id, device_id
    ON CONFLICT (patient_id, device_id) DO UPDATE SET last_at = excluded.last_at
    WHERE excluded.last_at > device_last_heard.last_at""",
)


def readings_per_day() -> float:
    """Readings a patient sends a day at their protocol's schedule, averaged over the
    four protocols (the population has them in equal shares)."""
    per_protocol = []
    for name in export.PROTOCOLS:
        protocol = alerts.load_protocol(name)
        per_protocol.append(sum(24 / s.every_hours for s in protocol.expected.values()))
    return sum(per_protocol) / len(per_protocol)


@dataclass(frozen=True)
class Population:
    patients: list[str]
    by_centre: dict[str, list[str]]
    readings: int
    seconds: dict[str, float]
    rows: dict[str, int]


async def seed(
    settings: Settings,
    *,
    patients: int,
    days: int,
    readings: int | None = None,
    centres: tuple[dict[str, Any], ...] = CENTRES,
    quiet: bool = False,
) -> Population:
    """``patients`` enrolled ``days`` ago (give or take a day), each with a care plan,
    and ``readings`` over their follow-up (by default the protocols' schedules)."""
    readings = readings or max(1, round(patients * days * readings_per_day()))
    engine = create_engine(settings)
    try:
        now = utcnow().replace(microsecond=0)
        rng = random.Random(18)
        seconds: dict[str, float] = {}
        started = time.monotonic()
        people = export._people(
            rng, patients, now, centres=centres, enrolled_days_ago=(days, days + 1)
        )
        ids = await export._enrol(engine, vault_from_settings(settings), people, centres)
        seconds["patients"] = time.monotonic() - started
        _say(quiet, f"enrolled {patients:,} patients in {seconds['patients']:.1f} s")
        catalogue = load_catalogue(settings.fhir_dir)
        async with engine.begin() as conn:
            await export._helper_tables(conn, catalogue, people, ids, rng, now)
        mark = time.monotonic()
        recreate = await export._drop_secondary_indexes(engine)
        await export._readings(engine, readings, patients, settings.local_timezone, quiet=quiet)
        seconds["readings"] = time.monotonic() - mark
        mark = time.monotonic()
        await export._recreate(engine, recreate)
        seconds["indexes"] = time.monotonic() - mark
        mark = time.monotonic()
        async with engine.begin() as conn:
            for statement in LAST_SEEN_SQL:
                await conn.execute(sa.text(statement))
            await export._queue_and_resource_use(conn, now)
            await conn.execute(sa.text(f"DROP TABLE {', '.join(export.HELPER_TABLES)}"))
            rows = await export._row_counts(conn)
        seconds["items_and_resource_use"] = time.monotonic() - mark
        mark = time.monotonic()
        await export._vacuum(engine)
        # As autovacuum would leave every table, also those the export's vacuum leaves
        # out: without statistics the scan's join of device_last_heard and device_loan
        # is planned for 40 loans and probes an index 60,000 times (316 ms -> 63 ms).
        async with engine.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await auto.execute(sa.text("ANALYZE"))
        seconds["vacuum_analyze"] = time.monotonic() - mark
        seconds["total"] = time.monotonic() - started
        _say(
            quiet,
            f"seeded in {seconds['total']:.1f} s: "
            + ", ".join(f"{n:,} {table}" for table, n in rows.items()),
        )
        by_centre: dict[str, list[str]] = {}
        for person, patient_id in zip(people, ids, strict=True):
            by_centre.setdefault(person.centre, []).append(patient_id)
        return Population(ids, by_centre, readings, seconds, rows)
    finally:
        await engine.dispose()


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        print(text, flush=True)
