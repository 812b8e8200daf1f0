"""``python -m bench.export``: the research export of a large cohort, and its memory.

The research-export issue promises a streaming export: 10 million readings without
holding them in memory, peak RSS under 500 MB. This measures it from an empty database:
patients are enrolled through the service's own code (identity numbers really encrypted,
care plans really versioned), the readings are then made by set-based SQL straight into
``observation`` (the ingest path would take hours for 10 million), a study is registered
through the service, and ``dho export`` runs as an operator runs it, in a process of its
own whose ``/proc/<pid>/status`` is sampled while it works. Like ``bench/run.py``, the
database and the key directory are made for the run and removed afterwards, also on
Ctrl-C: a benchmark that measures yesterday's rows is not repeatable.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import json
import os
import random
import re
import secrets
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

import alerts
from bench.load import machine_jiffies
from bench.run import (
    BUSY_WARNING_CORES,
    DEFAULT_SERVER,
    REPO,
    _busy_cores,
    _database,
    _dho_command,
    _git,
    _machine,
    _postgres_version,
    _shown,
    _step,
    guarded,
)
from service.auth.principal import DEFAULT_SCOPES, Principal, Role
from service.careplans import service as careplans
from service.careplans.schemas import CarePlanWrite
from service.centres import repository as centres
from service.database import create_engine
from service.fhirkit.catalogue import LOINC, MDC, UCUM, Catalogue, load_catalogue
from service.models_base import utcnow
from service.patients import service as patients
from service.patients.identity_number import FNR_SYSTEM, generate_identity_number
from service.patients.identity_vault import IdentityVault, vault_from_settings
from service.research import service as studies
from service.research.pseudonyms import StudyKeyring
from service.research.schemas import StudyCreate
from service.settings import Settings

RESULTS = REPO / "bench" / "results" / "export-latest.json"
DEFAULT_READINGS = 10_000_000
DEFAULT_PATIENTS = 2_000
QUICK_READINGS, QUICK_PATIENTS = 200_000, 200
# The target, and what counts as memory growing with the export.
RSS_TARGET_MB = 500.0
GROWTH_LIMIT = 0.10
SAMPLE_SECONDS = 0.25
# Readings per INSERT statement: progress to print, and no statement runs for minutes.
CHUNK = 250_000
# Connections loading readings (and building indexes) at once.
LOADERS = max(2, min(8, os.cpu_count() or 2))
INDEX_MEMORY = "256MB"
HELPER_TABLES = ("bench_patient", "bench_mix", "bench_measure", "bench_baseline", "bench_band")
# Below this, k=5 cannot be reached at the coarsest rung of the ladder (24 classes).
MIN_PATIENTS = 120

# Two centres in one county (Nordland, 18): region is a quasi-identifier, and with two
# counties the 200 patients of --quick would fall into classes too small for k=5.
CENTRES: tuple[dict[str, Any], ...] = (
    {
        "id": "salten",
        "name": "Oppfølgingstjenesten Salten",
        "org_number": None,
        "municipalities": ["1804", "1838", "1840", "1841"],
    },
    {
        "id": "vesteralen",
        "name": "Vesterålen digital hjemmeoppfølging",
        "org_number": None,
        "municipalities": ["1866", "1867", "1868", "1870"],
    },
)
GIVEN = ("Kari", "Ola", "Ingrid", "Per", "Solveig", "Arne", "Randi", "Knut", "Astrid", "Nils")
FAMILY = ("Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen", "Berg")
PROTOCOLS = ("copd", "heart_failure", "hypertension", "diabetes")
# Age at enrolment. Sex, protocol and this group go round-robin, so every class of the
# coarsest rung (20-year bands, sex, protocol) has at least 5 patients from 120 on.
AGE_GROUPS = ((50, 59), (60, 79), (80, 95), (60, 79))
FIRST_ENROLMENT_DAYS, LAST_ENROLMENT_DAYS = 420, 30
# Readings end this long before the run, so that every reading was received before the
# export's cut (receipt comes up to 5 h 15 min after the measurement).
QUIET_HOURS = 6
# Readings are spread over patients unevenly: patient n's share falls as n^(1/SKEW - 1),
# so the busiest patients send several times the average (a continuous oximeter).
SKEW = 1.5
DOUBTFUL_SHARE = 0.005
LATE_SHARE = 0.02

# What each protocol's patients measure: (measurement, share of their readings, device).
MIX: dict[str, tuple[tuple[str, float, str], ...]] = {
    "copd": (
        ("spo2", 0.36, "oximeter"),
        ("heart_rate", 0.36, "oximeter"),
        ("blood_pressure", 0.14, "bp-monitor"),
        ("body_temperature", 0.12, "thermometer"),
        ("cat_score", 0.02, "tablet"),
    ),
    "heart_failure": (
        ("body_weight", 0.30, "scale"),
        ("blood_pressure", 0.30, "bp-monitor"),
        ("heart_rate", 0.28, "oximeter"),
        ("spo2", 0.12, "oximeter"),
    ),
    "hypertension": (
        ("blood_pressure", 0.70, "bp-monitor"),
        ("heart_rate", 0.20, "bp-monitor"),
        ("body_weight", 0.10, "scale"),
    ),
    "diabetes": (
        ("glucose_capillary", 0.50, "glucometer"),
        ("blood_pressure", 0.25, "bp-monitor"),
        ("body_weight", 0.15, "scale"),
        ("heart_rate", 0.10, "bp-monitor"),
    ),
}


@dataclass(frozen=True)
class Draw:
    """How one measurement's values are drawn: each patient's own mean (``mean`` give
    or take ``between``), each reading around it (``within``), rounded and bounded."""

    mean: float
    between: float
    within: float
    digits: int
    low: float
    high: float


DRAWS = {
    "heart_rate": Draw(74, 8, 7, 0, 30, 200),
    "spo2": Draw(96.5, 1.0, 1.4, 0, 70, 100),
    "body_weight": Draw(80, 14, 0.6, 1, 35, 200),
    "body_temperature": Draw(36.7, 0.2, 0.3, 1, 34, 41.5),
    "glucose_capillary": Draw(8.0, 1.2, 1.5, 1, 1.5, 33),
    "cat_score": Draw(14, 4, 2.5, 0, 0, 40),
    "systolic": Draw(134, 10, 8, 0, 70, 250),
    "diastolic": Draw(82, 7, 7, 0, 40, 140),
}
# COPD patients live lower.
PROTOCOL_DRAWS = {("copd", "spo2"): Draw(93, 1.5, 1.6, 0, 70, 100)}
# Readings sent in another unit than the canonical one: (unit, share, decimals sent).
OTHER_UNITS = {
    "glucose_capillary": ("mg/dL", 0.2, 0),
    "body_weight": ("[lb_av]", 0.03, 1),
    "body_temperature": ("[degF]", 0.05, 1),
}
OUTCOMES = ("handled_by_centre", "no_action_needed", "referred_to_gp", "measurement_error")
ACTIONS = ("phone_call", "reviewed_readings", "advice_to_patient", "secure_message")
EXTERNAL_KINDS = ("gp_contact", "emergency_primary_care", "hospital_stay", "home_care_hours")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.export", description=__doc__)
    parser.add_argument("--readings", type=int, default=None, help="readings in all (10,000,000)")
    parser.add_argument("--patients", type=int, default=None, help="patients (2,000)")
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_READINGS:,} readings, {QUICK_PATIENTS}"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the database (for profiling); print its URL"
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    readings, patients = (
        (QUICK_READINGS, QUICK_PATIENTS) if args.quick else (DEFAULT_READINGS, DEFAULT_PATIENTS)
    )
    args.readings = readings if args.readings is None else args.readings
    args.patients = patients if args.patients is None else args.patients
    if args.readings < 1:
        parser.error("--readings must be at least 1")
    if args.patients < MIN_PATIENTS:
        parser.error(f"--patients must be at least {MIN_PATIENTS}: below, k=5 is out of reach")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return guarded(lambda: _bench(args))


def _bench(args: argparse.Namespace) -> int:
    server_url = make_url(os.environ.get("DHO_BENCH_DATABASE_URL", DEFAULT_SERVER))
    database_url = server_url.set(database=f"dho_bench_export_{os.getpid()}")
    data_key = base64.b64encode(secrets.token_bytes(32)).decode()
    dho = _dho_command()
    with contextlib.ExitStack() as cleanup:
        var_dir = Path(
            cleanup.enter_context(tempfile.TemporaryDirectory(prefix="dho-bench-export-"))
        )
        print(f"database {database_url.render_as_string(hide_password=True)}", flush=True)
        cleanup.enter_context(_database(database_url, keep=args.keep))
        env = {
            **os.environ,
            "DHO_DATABASE_URL": database_url.render_as_string(hide_password=False),
            "DHO_VAR_DIR": str(var_dir),
            "DHO_DATA_KEY": data_key,
            "DHO_LOG_LEVEL": "WARNING",
            "DHO_ENVIRONMENT": "development",
        }
        _step([dho, "migrate"], env)
        settings = Settings(
            database_url=env["DHO_DATABASE_URL"],
            var_dir=var_dir,
            data_key=data_key,
            environment="development",
        )
        seeded = asyncio.run(_seed(settings, args.readings, args.patients))
        postgres = asyncio.run(_postgres_version(database_url))
        idle = _busy_cores(1.0)
        if idle > BUSY_WARNING_CORES:
            print(
                f"warning: {idle:.2f} cores were busy before the export started (other "
                "processes on this machine): its seconds will be long",
                flush=True,
            )
        print(f"\nexporting study {seeded.study_id} with dho export ...", flush=True)
        out = var_dir / "export"
        measured = _measure([dho, "export", "--study", seeded.study_id, "--out", str(out)], env)
        files = _files(out)
        deidentification = _deidentification(out)
        if args.keep:
            shown = database_url.render_as_string(hide_password=True)
            print(
                f"\nthe database stays: {shown}\nexport it again (the data key is this "
                f"run's own):\n  DHO_DATABASE_URL={shown} DHO_DATA_KEY={data_key} "
                f"{_shown(Path(dho))} export --study {seeded.study_id} --out /tmp/export-again\n"
                f'drop it with: DROP DATABASE "{database_url.database}"',
                flush=True,
            )

    report = _report(args, seeded, measured, files, deidentification, postgres)
    report["machine"]["busy_cores_before_export"] = round(idle, 2)
    _print(report, measured)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nresults written to {_shown(args.output)}")
    return 0 if measured.exit_code == 0 else 1


# --- the cohort -------------------------------------------------------------------------


@dataclass
class Seeded:
    study_id: str
    readings: int
    patients: int
    seconds: dict[str, float]
    rows: dict[str, int]


@dataclass(frozen=True)
class Person:
    """One patient to enrol, drawn before any of them is."""

    index: int
    centre: str
    municipality: str
    birth: dt.date
    female: bool
    protocol: str
    enrolled_at: dt.datetime


async def _seed(settings: Settings, readings: int, patients: int) -> Seeded:
    engine = create_engine(settings)
    try:
        now = utcnow().replace(microsecond=0)
        rng = random.Random(2026)
        seconds: dict[str, float] = {}
        started = time.monotonic()
        people = _people(rng, patients, now)
        ids = await _enrol(engine, vault_from_settings(settings), people)
        seconds["patients"] = time.monotonic() - started
        print(f"enrolled {patients:,} patients in {seconds['patients']:.1f} s", flush=True)
        catalogue = load_catalogue(settings.fhir_dir)
        async with engine.begin() as conn:
            await _helper_tables(conn, catalogue, people, ids, rng, now)
        mark = time.monotonic()
        recreate = await _drop_secondary_indexes(engine)
        await _readings(engine, readings, patients, settings.local_timezone)
        seconds["readings"] = time.monotonic() - mark
        mark = time.monotonic()
        await _recreate(engine, recreate)
        seconds["indexes"] = time.monotonic() - mark
        print(f"observation's indexes rebuilt in {seconds['indexes']:.1f} s", flush=True)
        mark = time.monotonic()
        async with engine.begin() as conn:
            await _queue_and_resource_use(conn, now)
            await conn.execute(sa.text(f"DROP TABLE {', '.join(HELPER_TABLES)}"))
            rows = await _row_counts(conn)
        seconds["items_and_resource_use"] = time.monotonic() - mark
        print(f"items and resource use in {seconds['items_and_resource_use']:.1f} s", flush=True)
        mark = time.monotonic()
        await _vacuum(engine)
        seconds["vacuum_analyze"] = time.monotonic() - mark
        print(f"VACUUM (ANALYZE) in {seconds['vacuum_analyze']:.1f} s", flush=True)
        study_id = await _register_study(engine, settings, catalogue, people, now)
        seconds["total"] = time.monotonic() - started
        print(
            f"seeded in {seconds['total']:.1f} s: "
            + ", ".join(f"{n:,} {table}" for table, n in rows.items()),
            flush=True,
        )
        return Seeded(study_id, readings, patients, seconds, rows)
    finally:
        await engine.dispose()


def _people(
    rng: random.Random,
    count: int,
    now: dt.datetime,
    *,
    centres: Sequence[dict[str, Any]] = CENTRES,
    enrolled_days_ago: tuple[int, int] = (LAST_ENROLMENT_DAYS, FIRST_ENROLMENT_DAYS),
) -> list[Person]:
    """``centres``: the second of two gets 40 % of the patients (as the export's cohort
    has it); of more, each an even share."""
    people = []
    for index in range(count):
        if len(centres) == 2:
            centre = centres[1 if rng.random() < 0.4 else 0]
        else:
            centre = centres[index % len(centres)]
        low, high = AGE_GROUPS[(index // 8) % len(AGE_GROUPS)]
        days_ago = rng.randint(*enrolled_days_ago)
        enrolled_at = (now - dt.timedelta(days=days_ago)).replace(
            hour=rng.randint(7, 14), minute=rng.randint(0, 59), second=0
        )
        age_days = int(rng.randint(low, high) * 365.25) + rng.randint(0, 360)
        people.append(
            Person(
                index=index,
                centre=centre["id"],
                municipality=rng.choice(centre["municipalities"]),
                birth=enrolled_at.date() - dt.timedelta(days=age_days),
                female=index % 2 == 0,
                protocol=PROTOCOLS[(index // 2) % len(PROTOCOLS)],
                enrolled_at=enrolled_at,
            )
        )
    return people


async def _enrol(
    engine: AsyncEngine,
    vault: IdentityVault,
    people: list[Person],
    centres_made: Sequence[dict[str, Any]] = CENTRES,
) -> list[str]:
    """Every patient through ``patients.enrol`` and ``careplans.write``, as a nurse of
    their centre: encrypted identity numbers, lookup hashes and care-plan versions are
    the service's own, not imitations."""
    async with engine.begin() as conn:
        for centre in centres_made:
            await centres.upsert(conn, centre)
    used: dict[dt.date, int] = {}
    ids: list[str] = []
    async with engine.begin() as conn:
        for person in people:
            staff = Principal(
                subject="nurse-bench",
                role=Role.nurse,
                centres=(person.centre,),
                scopes=frozenset(DEFAULT_SCOPES[Role.nurse]),
            )
            number = _identity_number(person, used)
            resource = {
                "resourceType": "Patient",
                "identifier": [{"system": FNR_SYSTEM, "value": number}],
                "name": [
                    {
                        "family": FAMILY[person.index % len(FAMILY)],
                        "given": [GIVEN[person.index % len(GIVEN)]],
                    }
                ],
                "address": [{"district": person.municipality}],
                "managingOrganization": {"reference": f"Organization/{person.centre}"},
            }
            enrolled = await patients.enrol(
                conn, staff, resource, vault, enrolled_at=person.enrolled_at
            )
            plan = CarePlanWrite(protocol=person.protocol, reason="Benchmark: protocol defaults")
            await careplans.write(conn, staff, enrolled["id"], plan, person.enrolled_at)
            ids.append(enrolled["id"])
    return ids


def _identity_number(person: Person, used: dict[dt.date, int]) -> str:
    """A valid, unused number: individual numbers walk upwards per birth date."""
    start = used.get(person.birth, -1) + 1
    number = generate_identity_number(person.birth, start, female=person.female)
    used[person.birth] = int(number[6:9])
    return number


async def _helper_tables(
    conn: AsyncConnection,
    catalogue: Catalogue,
    people: list[Person],
    ids: list[str],
    rng: random.Random,
    now: dt.datetime,
) -> None:
    """The tables the set-based INSERTs join: the patients, what each protocol measures
    with which device, each measurement's codes and units as the catalogue has them,
    every patient's own means and devices, the protocols' bands. Unlogged tables rather
    than temporary ones, so that every loading connection sees them; dropped after."""
    statements = [
        """CREATE UNLOGGED TABLE bench_patient (n int PRIMARY KEY, id text UNIQUE, centre_id text,
            protocol text, enrolled_at timestamptz, span float8)""",
        """CREATE UNLOGGED TABLE bench_mix (protocol text, lo float8, hi float8,
            measurement text)""",
        """CREATE UNLOGGED TABLE bench_measure (measurement text PRIMARY KEY, code text, unit text,
            category text, codings text, display_en text, display_nb text, panel bool,
            part1 text, part2 text, part_unit text, digits int, low float8, high float8,
            low2 float8, high2 float8, alt_unit text, alt_factor float8, alt_offset float8,
            alt_share float8, alt_digits int)""",
        """CREATE UNLOGGED TABLE bench_baseline (n int, measurement text, mean float8, sd float8,
            mean2 float8, sd2 float8, device_kind text, device_id text, serial text,
            PRIMARY KEY (n, measurement))""",
        """CREATE UNLOGGED TABLE bench_band (protocol text, measurement text, red_low float8,
            yellow_low float8, yellow_high float8, red_high float8,
            PRIMARY KEY (protocol, measurement))""",
    ]
    for statement in statements:
        await conn.execute(sa.text(statement))
    end = now - dt.timedelta(hours=QUIET_HOURS)
    await conn.execute(
        sa.text(
            "INSERT INTO bench_patient VALUES (CAST(:n AS int), :id, :centre_id, :protocol, "
            "CAST(:enrolled_at AS timestamptz), CAST(:span AS float8))"
        ),
        [
            {
                "n": p.index,
                "id": patient_id,
                "centre_id": p.centre,
                "protocol": p.protocol,
                "enrolled_at": p.enrolled_at,
                "span": (end - p.enrolled_at).total_seconds(),
            }
            for p, patient_id in zip(people, ids, strict=True)
        ],
    )
    mix = []
    for protocol, parts in MIX.items():
        low = 0.0
        for number, (measurement, share, _) in enumerate(parts):
            # The last share runs to 1, whatever rounding left between them.
            high = 1.0 if number == len(parts) - 1 else low + share
            mix.append({"protocol": protocol, "lo": low, "hi": high, "measurement": measurement})
            low = high
    await conn.execute(
        sa.text(
            "INSERT INTO bench_mix VALUES (:protocol, CAST(:lo AS float8), CAST(:hi AS float8), "
            ":measurement)"
        ),
        mix,
    )
    await conn.execute(
        sa.text(
            "INSERT INTO bench_measure VALUES (:measurement, :code, :unit, :category, :codings, "
            ":display_en, :display_nb, CAST(:panel AS bool), :part1, :part2, :part_unit, "
            "CAST(:digits AS int), CAST(:low AS float8), CAST(:high AS float8), "
            "CAST(:low2 AS float8), CAST(:high2 AS float8), :alt_unit, "
            "CAST(:alt_factor AS float8), CAST(:alt_offset AS float8), "
            "CAST(:alt_share AS float8), CAST(:alt_digits AS int))"
        ),
        _measures(catalogue),
    )
    await conn.execute(
        sa.text(
            "INSERT INTO bench_baseline VALUES (CAST(:n AS int), :measurement, "
            "CAST(:mean AS float8), CAST(:sd AS float8), CAST(:mean2 AS float8), "
            "CAST(:sd2 AS float8), :device_kind)"
        ),
        _baselines(people, rng),
    )
    await conn.execute(
        sa.text(
            "INSERT INTO bench_band VALUES (:protocol, :measurement, CAST(:red_low AS float8), "
            "CAST(:yellow_low AS float8), CAST(:yellow_high AS float8), "
            "CAST(:red_high AS float8))"
        ),
        [
            {
                "protocol": protocol,
                "measurement": measurement,
                "red_low": band.red_low,
                "yellow_low": band.yellow_low,
                "yellow_high": band.yellow_high,
                "red_high": band.red_high,
            }
            for protocol in PROTOCOLS
            for measurement, band in alerts.load_protocol(protocol).bands.items()
        ],
    )
    # One device of each kind the patient's protocol uses, lent at enrolment; the rows of
    # bench_baseline name it, so that a reading finds its device in the join it needs anyway.
    await conn.execute(
        sa.text(
            """UPDATE bench_baseline b
            SET device_id = md5(p.id || '/' || b.device_kind)::uuid::text,
                serial = upper(b.device_kind) || '-'
                    || upper(substr(md5(p.id || '/serial/' || b.device_kind), 1, 10))
            FROM bench_patient p WHERE p.n = b.n"""
        )
    )
    await conn.execute(
        sa.text(
            """INSERT INTO device (id, centre_id, identifier_system,
                identifier_value, kind, clock_doubtful, resource, created_at)
            SELECT DISTINCT ON (d.device_id) d.device_id, p.centre_id,
                CAST(:system AS text), d.serial, d.device_kind, false,
                format('{"resourceType":"Device","identifier":[{"system":"%s","value":"%s"}],'
                    '"serialNumber":"%s","type":{"coding":[{"system":"%s","code":"65573",'
                    '"display":"%s"}]}}', CAST(:system AS text), d.serial, d.serial,
                    CAST(:mdc AS text), d.device_kind),
                p.enrolled_at
            FROM bench_baseline d JOIN bench_patient p USING (n)"""
        ),
        {"system": "urn:oid:1.2.840.10004.1.1.1.0.0.1.0.0.1.2680", "mdc": MDC},
    )
    # Each kit is lent to its patient from enrolment: readings belong to the holder.
    await conn.execute(
        sa.text(
            """INSERT INTO device_loan (id, centre_id, patient_id, device_id, lent_at,
                lent_by, created_at)
            SELECT DISTINCT ON (d.device_id) md5(d.device_id || '/loan')::uuid::text,
                p.centre_id, p.id, d.device_id, p.enrolled_at, 'bench', p.enrolled_at
            FROM bench_baseline d JOIN bench_patient p USING (n)"""
        )
    )
    await conn.execute(
        sa.text("ANALYZE bench_patient, bench_mix, bench_measure, bench_baseline, bench_band")
    )


def _measures(catalogue: Catalogue) -> list[dict[str, Any]]:
    """Codes, units, displays and conversions from ``fhir/catalogue.json``: the readings
    carry what ingest would have stored for them."""
    rows = []
    keys = {m for parts in MIX.values() for m, _, _ in parts} | {"systolic", "diastolic"}
    for key in sorted(keys):
        measurement = catalogue.by_key[key]
        codings = [{"system": s, "code": c} for s, c in measurement.codings if s == MDC][:1]
        system = LOINC if measurement.loinc else catalogue.score_system
        codings.append(
            {"system": system, "code": measurement.code, "display": measurement.display_en}
        )
        panel = measurement.is_panel
        parts = [catalogue.by_key[k] for k in measurement.components]
        draw = DRAWS.get(parts[0].key if panel else key)
        second = DRAWS["diastolic"] if panel else None
        other = OTHER_UNITS.get(key)
        conversion = measurement.conversion(other[0]) if other else None
        rows.append(
            {
                "measurement": key,
                "code": measurement.code,
                "unit": measurement.unit,
                "category": measurement.category,
                "codings": orjson.dumps(codings).decode(),
                "display_en": measurement.display_en,
                "display_nb": measurement.display_nb,
                "panel": panel,
                "part1": parts[0].code if panel else None,
                "part2": parts[1].code if panel else None,
                "part_unit": parts[0].unit if panel else None,
                "digits": draw.digits if draw else None,
                "low": draw.low if draw else None,
                "high": draw.high if draw else None,
                "low2": second.low if second else None,
                "high2": second.high if second else None,
                "alt_unit": other[0] if other else None,
                "alt_factor": conversion.factor if conversion else None,
                "alt_offset": conversion.offset if conversion else None,
                "alt_share": other[1] if other else None,
                "alt_digits": other[2] if other else None,
            }
        )
    return rows


def _baselines(people: list[Person], rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for person in people:
        for measurement, _, device in MIX[person.protocol]:
            first = "systolic" if measurement == "blood_pressure" else measurement
            mean, sd = _own(PROTOCOL_DRAWS.get((person.protocol, first), DRAWS[first]), rng)
            mean2, sd2 = (
                _own(DRAWS["diastolic"], rng) if measurement == "blood_pressure" else (None, None)
            )
            rows.append(
                {
                    "n": person.index,
                    "measurement": measurement,
                    "mean": mean,
                    "sd": sd,
                    "mean2": mean2,
                    "sd2": sd2,
                    "device_kind": device,
                }
            )
    return rows


def _own(draw: Draw, rng: random.Random) -> tuple[float, float]:
    spread = 2.5 * draw.between
    mean = min(max(rng.gauss(draw.mean, draw.between), draw.mean - spread), draw.mean + spread)
    return mean, draw.within * rng.uniform(0.7, 1.3)


# One statement per chunk of readings. Layer by layer: eight random numbers per reading;
# its patient (skewed), measurement (the protocol's mix) and time (uniform over the
# patient's follow-up); its values around the patient's own means, in the canonical unit
# or sent in another one and converted as ingest converts; then the row as ingest writes
# it (components as ingest stores them, dedup key from the identifier, the verbatim JSON
# short but valid). The out-of-band readings become findings in the same statement.
READINGS_SQL = """
WITH ins AS (
INSERT INTO observation (id, centre_id, patient_id, device_id, kind, measurement, code, status,
    value, unit, original_value, original_unit, components, effective_at, effective_original,
    time_doubtful, time_note, received_at, dedup_key, identifier_system, identifier_value,
    links, resource, version_id)
SELECT
    gen_random_uuid()::text, c.centre_id, c.patient_id, c.device_id, 'measurement',
    c.measurement, c.code, 'final', c.value, c.unit, c.original_value, c.original_unit,
    CASE WHEN c.panel THEN jsonb_build_array(
            jsonb_build_object('measurement', 'systolic', 'code', c.part1, 'value', c.v1,
                'unit', c.part_unit, 'original_value', c.v1, 'original_unit', c.part_unit),
            jsonb_build_object('measurement', 'diastolic', 'code', c.part2, 'value', c.v2,
                'unit', c.part_unit, 'original_value', c.v2, 'original_unit', c.part_unit))
        ELSE jsonb_build_array(jsonb_build_object('measurement', c.measurement,
            'code', c.code, 'value', c.value, 'unit', c.unit,
            'original_value', c.original_value, 'original_unit', c.original_unit))
    END,
    c.effective_at, c.effective_original, c.doubtful,
    CASE WHEN c.doubtful THEN CAST(:note AS text) END,
    c.received_at,
    encode(sha256(convert_to('id|' || CAST(:system AS text) || '|' || c.identifier_value,
        'UTF8')), 'hex'),
    CAST(:system AS text), c.identifier_value, 'null'::jsonb,
    format('{"resourceType":"Observation","identifier":[{"system":"%s","value":"%s"}],'
        '"status":"final","category":[{"coding":[{"system":"%s","code":"%s"}]}],'
        '"code":{"coding":%s},"subject":{"reference":"Patient/%s"},'
        '"device":{"reference":"Device/%s"},"effectiveDateTime":"%s",%s}',
        CAST(:system AS text), c.identifier_value, CAST(:category_system AS text), c.category,
        c.codings, c.patient_id, c.device_id, c.effective_original,
        CASE WHEN c.panel THEN format('"component":['
                '{"code":{"coding":[{"system":"%s","code":"%s"}]},'
                '"valueQuantity":{"value":%s,"unit":"%s","system":"%s","code":"%s"}},'
                '{"code":{"coding":[{"system":"%s","code":"%s"}]},'
                '"valueQuantity":{"value":%s,"unit":"%s","system":"%s","code":"%s"}}]',
                CAST(:loinc AS text), c.part1, c.v1, c.part_unit, CAST(:ucum AS text),
                c.part_unit, CAST(:loinc AS text), c.part2, c.v2, c.part_unit,
                CAST(:ucum AS text), c.part_unit)
            ELSE format('"valueQuantity":{"value":%s,"unit":"%s","system":"%s","code":"%s"}',
                c.original_value, c.original_unit, CAST(:ucum AS text), c.original_unit)
        END),
    1
FROM (
    SELECT v.*,
        CASE WHEN v.panel THEN NULL
            WHEN v.alt THEN round(CAST(v.sent * v.alt_factor + v.alt_offset AS numeric), 4)::float8
            ELSE v.sent END AS value,
        CASE WHEN v.panel THEN NULL ELSE v.sent END AS original_value,
        CASE WHEN v.panel THEN NULL WHEN v.alt THEN v.alt_unit ELSE v.unit END AS original_unit,
        v.serial || '-' || to_char(v.effective_at, 'YYYYMMDDHH24MISS') || '-' || v.i
            AS identifier_value,
        to_char(v.effective_at AT TIME ZONE CAST(:zone AS text), 'YYYY-MM-DD"T"HH24:MI:SS')
            || CASE WHEN v.doubtful THEN '-00:00'
                ELSE '+' || to_char((v.effective_at AT TIME ZONE CAST(:zone AS text))
                    - (v.effective_at AT TIME ZONE 'UTC'), 'HH24:MI') END
            AS effective_original
    FROM (
        SELECT g.i, g.patient_id, g.centre_id, g.effective_at, g.measurement, g.doubtful,
            g.received_at, b.device_id, b.serial,
            m.code, m.unit, m.category, m.codings, m.panel, m.part1, m.part2, m.part_unit,
            m.alt_unit, m.alt_factor, m.alt_offset,
            m.alt_unit IS NOT NULL AND g.q < m.alt_share AS alt,
            greatest(m.low, least(m.high,
                round(CAST(b.mean + b.sd * g.z1 AS numeric), m.digits)))::float8 AS v1,
            greatest(m.low2, least(m.high2,
                round(CAST(b.mean2 + b.sd2 * g.z2 AS numeric), 0)))::float8 AS v2,
            CASE WHEN m.alt_unit IS NOT NULL AND g.q < m.alt_share
                THEN round(CAST((greatest(m.low, least(m.high, b.mean + b.sd * g.z1))
                    - m.alt_offset) / m.alt_factor AS numeric), m.alt_digits)::float8
                ELSE greatest(m.low, least(m.high,
                    round(CAST(b.mean + b.sd * g.z1 AS numeric), m.digits)))::float8
            END AS sent
        FROM (
            SELECT r.i, p.n, p.id AS patient_id, p.centre_id, x.measurement,
                date_trunc('second', p.enrolled_at + p.span * r.t * interval '1 second')
                    AS effective_at,
                sqrt(-2 * ln(1 - r.a)) * cos(2 * pi() * r.b) AS z1,
                sqrt(-2 * ln(1 - r.a)) * sin(2 * pi() * r.b) AS z2,
                r.q, r.d < CAST(:doubtful AS float8) AS doubtful,
                date_trunc('second', p.enrolled_at + p.span * r.t * interval '1 second')
                    + CASE WHEN r.e < CAST(:late AS float8)
                        THEN (3600 + r.e / CAST(:late AS float8) * 14400) * interval '1 second'
                        ELSE (20 + r.e * 880) * interval '1 second' END AS received_at
            FROM (
                SELECT i, random() AS u, random() AS m, random() AS t, random() AS a,
                    random() AS b, random() AS q, random() AS d, random() AS e
                FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS i
                OFFSET 0
            ) AS r
            JOIN bench_patient p ON p.n = least(CAST(:patients AS int) - 1,
                floor(CAST(:patients AS int) * power(r.u, CAST(:skew AS float8)))::int)
            JOIN bench_mix x ON x.protocol = p.protocol AND r.m >= x.lo AND r.m < x.hi
            OFFSET 0
        ) AS g
        JOIN bench_measure m ON m.measurement = g.measurement
        JOIN bench_baseline b ON b.n = g.n AND b.measurement = g.measurement
        OFFSET 0
    ) AS v
) AS c
RETURNING id, centre_id, patient_id, device_id, measurement, value, components, effective_at,
    received_at
)
INSERT INTO finding (id, centre_id, patient_id, item_id, observation_id, anchor, rule,
    severity, measurement, direction, reading_ids, reason_nb, reason_en, value, threshold,
    late, technical, critical, snoozed, device_id, effective_at, care_plan_version,
    created_at)
SELECT gen_random_uuid()::text, j.centre_id, j.patient_id, NULL, j.id, j.id,
    CASE WHEN j.low THEN 'threshold.low' ELSE 'threshold.high' END, j.severity, j.judged,
    CASE WHEN j.low THEN 'low' ELSE 'high' END, jsonb_build_array(j.id),
    format('%s %s %s er %s den %s grensen %s %s', l.display_nb, j.v, l.unit,
        CASE WHEN j.low THEN 'under' ELSE 'over' END,
        CASE WHEN j.severity = 'red' THEN 'røde' ELSE 'gule' END, j.threshold, l.unit),
    format('%s %s %s is %s the %s limit %s %s', l.display_en, j.v, l.unit,
        CASE WHEN j.low THEN 'below' ELSE 'above' END, j.severity, j.threshold, l.unit),
    j.v, j.threshold, false, false, false, false, j.device_id, j.effective_at, 1,
    j.received_at
FROM (
    SELECT o.*,
        CASE WHEN o.v <= k.red_low OR o.v >= k.red_high THEN 'red'
            WHEN o.v < k.yellow_low OR o.v > k.yellow_high THEN 'yellow' END AS severity,
        coalesce(o.v <= k.red_low OR o.v < k.yellow_low, false) AS low,
        CASE WHEN o.v <= k.red_low THEN k.red_low WHEN o.v >= k.red_high THEN k.red_high
            WHEN o.v < k.yellow_low THEN k.yellow_low ELSE k.yellow_high END AS threshold
    FROM (
        SELECT ins.*, coalesce(ins.value, (ins.components -> 0 ->> 'value')::float8) AS v,
            CASE ins.measurement WHEN 'blood_pressure' THEN 'systolic'
                ELSE ins.measurement END AS judged
        FROM ins
    ) AS o
    JOIN bench_patient p ON p.id = o.patient_id
    JOIN bench_band k ON k.protocol = p.protocol AND k.measurement = o.judged
) AS j
JOIN bench_measure l ON l.measurement = j.judged
WHERE j.severity IS NOT NULL
"""


async def _readings(
    engine: AsyncEngine, readings: int, patients: int, zone: str, *, quiet: bool = False
) -> None:
    """Chunks of readings on one connection per CPU: the work is PostgreSQL's, one
    backend per connection."""
    chunks = [(first, min(first + CHUNK - 1, readings)) for first in range(1, readings + 1, CHUNK)]
    pending = list(reversed(chunks))
    started = time.monotonic()
    done = 0
    values = {
        "patients": patients,
        "skew": SKEW,
        "doubtful": DOUBTFUL_SHARE,
        "late": LATE_SHARE,
        "zone": zone,
        "note": f"offset unknown (-00:00): read as local time in {zone}",
        "system": "urn:dho:bench:export",
        "category_system": "http://terminology.hl7.org/CodeSystem/observation-category",
        "loinc": LOINC,
        "ucum": UCUM,
    }

    async def load() -> None:
        nonlocal done
        async with engine.connect() as conn:
            # The planner cannot estimate joins on random() (it expects one row) and
            # would nest loops over the helper tables for every reading.
            await conn.execute(sa.text("SET enable_nestloop = off"))
            while pending:
                first, last = pending.pop()
                await conn.execute(sa.text(READINGS_SQL), {**values, "first": first, "last": last})
                await conn.commit()
                done += last - first + 1
                elapsed = time.monotonic() - started
                if quiet:
                    continue
                print(
                    f"readings: {done:,} of {readings:,} in {elapsed:.0f} s "
                    f"({done / elapsed:,.0f} rows/s)",
                    flush=True,
                )

    await asyncio.gather(*(load() for _ in range(min(LOADERS, len(chunks)))))


async def _drop_secondary_indexes(engine: AsyncEngine) -> list[str]:
    """Drop observation's indexes and unique constraints but its primary key (findings
    reference it as they are inserted); answers the statements that make them again,
    from PostgreSQL's own definitions. Five b-trees filled in random order degrade the
    load as they outgrow the buffer cache; built afterwards, each is one sort."""
    async with engine.begin() as conn:
        constraints = (
            await conn.execute(
                sa.text(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = 'observation'::regclass AND contype = 'u'"
                )
            )
        ).all()
        indexes = (
            await conn.execute(
                sa.text(
                    "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                    "JOIN pg_class c ON c.oid = i.indexrelid "
                    "WHERE i.indrelid = 'observation'::regclass AND NOT i.indisprimary "
                    "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = c.oid)"
                )
            )
        ).all()
        for name, _ in constraints:
            await conn.execute(sa.text(f'ALTER TABLE observation DROP CONSTRAINT "{name}"'))
        for name, _ in indexes:
            await conn.execute(sa.text(f'DROP INDEX "{name}"'))
    return [
        *(f'ALTER TABLE observation ADD CONSTRAINT "{n}" {d}' for n, d in constraints),
        *(d for _, d in indexes),
    ]


async def _recreate(engine: AsyncEngine, statements: list[str]) -> None:
    pending = list(statements)

    async def build() -> None:
        async with engine.connect() as conn:
            await conn.execute(sa.text(f"SET maintenance_work_mem = '{INDEX_MEMORY}'"))
            while pending:
                await conn.execute(sa.text(pending.pop()))
                await conn.commit()

    await asyncio.gather(*(build() for _ in range(min(LOADERS, len(statements)))))


# Findings become resolved queue items (one per patient and day with findings), each
# with the nurse's action logged by the queue; nurses also review every patient monthly,
# and each patient has a few events outside the service.
ITEMS_SQL = (
    """
INSERT INTO triage_item (id, centre_id, patient_id, severity, critical, technical, state,
    opened_at, waiting_since, updated_at, back_in_range, claimed_by, claimed_at, resolved_by,
    resolved_at, outcome, actions, minutes, version)
SELECT s.id, s.centre_id, s.patient_id, s.severity, false, false, 'resolved', s.opened_at,
    s.opened_at, s.resolved_at, false, s.nurse, s.claimed_at, s.nurse, s.resolved_at,
    s.outcome, jsonb_build_array(s.action), s.minutes, 3
FROM (
    SELECT f.*, least(f.claimed_at + (3 + random() * 30) * interval '1 minute',
            CAST(:now AS timestamptz)) AS resolved_at
    FROM (
        SELECT f.*, least(f.opened_at + (2 + random() * 45) * interval '1 minute',
                CAST(:now AS timestamptz)) AS claimed_at,
            'nurse-' || (1 + floor(random() * 12))::int AS nurse,
            (CAST(:outcomes AS text[]))[1 + floor(random() * 4)::int] AS outcome,
            (CAST(:actions AS text[]))[1 + floor(random() * 4)::int] AS action,
            round(CAST(2 + random() * 25 AS numeric))::float8 AS minutes
        FROM (
            SELECT md5(patient_id || '/' || date_trunc('day', effective_at)::text)::uuid::text
                    AS id,
                min(centre_id) AS centre_id, patient_id,
                CASE WHEN bool_or(severity = 'red') THEN 'red' ELSE 'yellow' END AS severity,
                min(created_at) AS opened_at
            FROM finding GROUP BY 1, patient_id
            OFFSET 0
        ) AS f
        OFFSET 0
    ) AS f
    OFFSET 0
) AS s
""",
    """
UPDATE finding
SET item_id = md5(patient_id || '/' || date_trunc('day', effective_at)::text)::uuid::text
""",
    """
INSERT INTO resource_use_event (id, centre_id, patient_id, actor, actor_role, item_id, action,
    minutes, occurred_at, recorded_at, retracted, source)
SELECT gen_random_uuid()::text, centre_id, patient_id, claimed_by, 'nurse', id,
    actions ->> 0, minutes, claimed_at, resolved_at, false, 'queue'
FROM triage_item
""",
    """
INSERT INTO resource_use_event (id, centre_id, patient_id, actor, actor_role, item_id, action,
    minutes, occurred_at, recorded_at, retracted, source)
SELECT gen_random_uuid()::text, p.centre_id, p.id, 'nurse-' || (1 + p.n % 12), 'nurse', NULL,
    'reviewed_readings', round(CAST(5 + random() * 15 AS numeric))::float8, m.at,
    least(m.at + interval '1 hour', CAST(:now AS timestamptz)), false, 'nurse'
FROM bench_patient p
CROSS JOIN LATERAL generate_series(p.enrolled_at + interval '30 days',
    CAST(:now AS timestamptz) - interval '1 day', interval '30 days') AS m(at)
""",
    """
INSERT INTO external_event (id, centre_id, patient_id, kind, started_at, ended_at,
    hours_per_week, reported_by, reported_by_role, recorded_at, retracted)
SELECT gen_random_uuid()::text, e.centre_id, e.id, e.kind, e.started_at,
    CASE WHEN e.kind = 'hospital_stay'
            AND e.started_at + e.stay * interval '1 day' < CAST(:now AS timestamptz)
        THEN e.started_at + e.stay * interval '1 day' END,
    CASE WHEN e.kind = 'home_care_hours' THEN e.hours END,
    'nurse-bench', 'nurse',
    least(e.started_at + interval '1 day', CAST(:now AS timestamptz)), false
FROM (
    SELECT p.id, p.centre_id,
        (CAST(:kinds AS text[]))[1 + floor(random() * 4)::int] AS kind,
        date_trunc('minute', p.enrolled_at + random() * p.span * interval '1 second')
            AS started_at,
        1 + floor(random() * 10) AS stay, round(CAST(2 + random() * 10 AS numeric))::float8
            AS hours
    FROM bench_patient p CROSS JOIN LATERAL generate_series(0, p.n % 4) AS k
    OFFSET 0
) AS e
""",
)


async def _queue_and_resource_use(conn: AsyncConnection, now: dt.datetime) -> None:
    values = {
        "now": now,
        "outcomes": list(OUTCOMES),
        "actions": list(ACTIONS),
        "kinds": list(EXTERNAL_KINDS),
    }
    for statement in ITEMS_SQL:
        used = {k: v for k, v in values.items() if f":{k}" in statement}
        await conn.execute(sa.text(statement), used)


async def _row_counts(conn: AsyncConnection) -> dict[str, int]:
    tables = (
        "patient",
        "care_plan_version",
        "device",
        "observation",
        "finding",
        "triage_item",
        "resource_use_event",
        "external_event",
    )
    counts = {}
    for table in tables:
        query = sa.select(sa.func.count()).select_from(sa.table(table))
        counts[table] = int((await conn.execute(query)).scalar_one())
    return counts


async def _vacuum(engine: AsyncEngine) -> None:
    """As a long-lived database would be: hint bits set and statistics known, so the
    export's first reads of fresh rows do not pay for writing them."""
    async with engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await auto.execute(
            sa.text(
                "VACUUM (ANALYZE) observation, finding, triage_item, resource_use_event, "
                "external_event, device, patient, care_plan_version"
            )
        )


async def _register_study(
    engine: AsyncEngine,
    settings: Settings,
    catalogue: Catalogue,
    people: Sequence[Person],
    now: dt.datetime,
) -> str:
    """Through ``studies.register``: a study of both centres, every protocol, the whole
    follow-up, the default variables (every table and the aggregates) and k=5."""
    admin = Principal(
        subject="admin-bench",
        role=Role.admin,
        centres=tuple(c["id"] for c in CENTRES),
        scopes=frozenset(DEFAULT_SCOPES[Role.admin]),
    )
    body = StudyCreate(
        title="Export benchmark",
        approval_reference="BENCH-EXPORT",
        purpose="Measure the export of a large cohort",
        period_start=min(p.enrolled_at for p in people).date(),
        period_end=now.date(),
        expires_at=now + dt.timedelta(days=7),
        researchers=["researcher-bench"],
        centres=[c["id"] for c in CENTRES],
    )
    keyring = StudyKeyring.from_vault(vault_from_settings(settings))
    async with engine.begin() as conn:
        study = await studies.register(conn, admin, body, keyring, catalogue)
    return study.id


# --- the export, watched ----------------------------------------------------------------


@dataclass
class Sample:
    seconds: float
    rss_kib: int
    hwm_kib: int
    progress: float | None


@dataclass
class Measured:
    exit_code: int
    seconds: float
    samples: list[Sample]
    max_rss_kib: int  # the kernel's own peak, from wait4
    cpu_seconds: float
    machine_cores: float
    stdout: str
    stderr_tail: str
    cores_available: int = field(default_factory=lambda: os.cpu_count() or 1)


class _Reader(threading.Thread):
    """Drains a pipe of the child (a full pipe would stop it), keeping the tail and the
    last progress percentage the bar showed."""

    PERCENT = re.compile(rb"(\d+)%")

    def __init__(self, stream: IO[bytes], keep: int) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.keep = keep
        self.tail = bytearray()
        self.progress: float | None = None

    def run(self) -> None:
        read = getattr(self.stream, "read1", self.stream.read)
        while chunk := read(1 << 16):
            self.tail += chunk
            del self.tail[: max(0, len(self.tail) - self.keep)]
            found = self.PERCENT.findall(chunk)
            if found:
                self.progress = int(found[-1]) / 100

    def text(self) -> str:
        return self.tail.decode(errors="replace")


def _measure(command: list[str], env: dict[str, str]) -> Measured:
    """Run the export, reading VmRSS and VmHWM every ``SAMPLE_SECONDS``. The child is
    reaped with ``wait4`` for its rusage: ``ru_maxrss`` is the peak even if it came
    between two samples."""
    busy0, total0 = machine_jiffies()
    started = time.monotonic()
    # A session of its own: Ctrl-C reaches only this script, which then stops the export.
    child = subprocess.Popen(
        command,
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert child.stdout is not None
    assert child.stderr is not None
    out, err = _Reader(child.stdout, 1 << 20), _Reader(child.stderr, 1 << 14)
    out.start()
    err.start()
    samples: list[Sample] = []
    try:
        next_at = started
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            memory = _memory(child.pid)
            if memory is not None:
                samples.append(Sample(time.monotonic() - started, *memory, err.progress))
            next_at += SAMPLE_SECONDS
            time.sleep(max(0.0, next_at - time.monotonic()))
    except BaseException:
        _stop(child)
        raise
    seconds = time.monotonic() - started
    busy1, total1 = machine_jiffies()
    child.returncode = os.waitstatus_to_exitcode(status)
    out.join(5)
    err.join(5)
    cores = os.cpu_count() or 1
    machine = (busy1 - busy0) / (total1 - total0) * cores if total1 > total0 else 0.0
    return Measured(
        exit_code=child.returncode,
        seconds=seconds,
        samples=samples,
        max_rss_kib=usage.ru_maxrss,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        machine_cores=machine,
        stdout=out.text(),
        stderr_tail=err.text(),
    )


def _memory(pid: int) -> tuple[int, int] | None:
    """(VmRSS, VmHWM) in KiB; None once the process is gone or a zombie."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    if "VmRSS" not in fields or "VmHWM" not in fields:
        return None
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is not None:
        return
    os.killpg(child.pid, signal.SIGTERM)
    try:
        child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        # The group is the export's own session: it, nothing else.
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()


def _files(directory: Path) -> list[dict[str, Any]]:
    if not directory.is_dir():
        return []
    return [
        {"name": path.name, "bytes": path.stat().st_size}
        for path in sorted(directory.iterdir())
        if path.is_file()
    ]


def _deidentification(directory: Path) -> dict[str, Any]:
    with contextlib.suppress(OSError, ValueError):
        document: dict[str, Any] = json.loads(
            (directory / "deidentification-report.json").read_text(encoding="utf-8")
        )
        return document
    return {}


# --- the figures ------------------------------------------------------------------------


def _at_share(samples: list[Sample], seconds: float, share: float) -> Sample | None:
    """The sample nearest to ``share`` of the run's duration; 100 %: the last one."""
    if not samples:
        return None
    if share >= 1:
        return samples[-1]
    return min(samples, key=lambda s: abs(s.seconds - share * seconds))


def _mb(kib: int | None) -> float | None:
    return None if kib is None else round(kib / 1024, 1)


def _report(
    args: argparse.Namespace,
    seeded: Seeded,
    measured: Measured,
    files: list[dict[str, Any]],
    deidentification: dict[str, Any],
    postgres: str,
) -> dict[str, Any]:
    written = deidentification.get("records_written") or {}
    exported = written.get("Observation.ndjson")
    shares = (0.25, 0.5, 0.75, 1.0)
    at = {share: _at_share(measured.samples, measured.seconds, share) for share in shares}
    hwm = max((s.hwm_kib for s in measured.samples), default=0)
    peak_kib = max(hwm, measured.max_rss_kib)
    first, last = at[0.25], at[1.0]
    growth = (
        (last.rss_kib - first.rss_kib) / first.rss_kib
        if first is not None and last is not None and first.rss_kib
        else None
    )
    by_format: dict[str, int] = {}
    for f in files:
        suffix = Path(f["name"]).suffix.lstrip(".")
        by_format[suffix] = by_format.get(suffix, 0) + f["bytes"]
    machine = _machine(postgres, "n/a")
    machine.pop("client_event_loop", None)
    commit, dirty = _git()
    export_cores = measured.cpu_seconds / measured.seconds if measured.seconds else 0.0
    return {
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git": {"commit": commit, "dirty": dirty},
        "machine": machine,
        "settings": {
            "readings": args.readings,
            "patients": args.patients,
            "quick": args.quick,
            "sample_seconds": SAMPLE_SECONDS,
        },
        "seeding": {
            "seconds": {k: round(v, 1) for k, v in seeded.seconds.items()},
            "rows": seeded.rows,
        },
        "export": {
            "exit_code": measured.exit_code,
            "seconds": round(measured.seconds, 1),
            "readings_exported": exported,
            "readings_per_second": round(exported / measured.seconds, 1)
            if exported and measured.seconds
            else None,
            "patients_in_cohort": deidentification.get("patients_in_cohort"),
            "patients_released": deidentification.get("patients_released"),
            "generalisation": deidentification.get("generalisation"),
            "records_written": written,
            "peak_rss_mb": _mb(peak_kib),
            "vm_hwm_mb": _mb(hwm),
            "ru_maxrss_mb": _mb(measured.max_rss_kib),
            "rss_mb_at": {
                f"{share:.0%}": None
                if s is None
                else {
                    "seconds": round(s.seconds, 1),
                    "rss_mb": _mb(s.rss_kib),
                    "progress": s.progress,
                }
                for share, s in at.items()
            },
            "rss_growth_25_to_100": None if growth is None else round(growth, 3),
            "cpu": {
                "export_cpu_seconds": round(measured.cpu_seconds, 1),
                "export_cores": round(export_cores, 2),
                "postgresql_and_other_cores": round(
                    max(0.0, measured.machine_cores - export_cores), 2
                ),
                "machine_cores": round(measured.machine_cores, 2),
                "machine_cores_available": measured.cores_available,
            },
            "bytes_by_format": by_format,
            "files": files,
            "stderr_tail": measured.stderr_tail[-4000:] if measured.exit_code else None,
            "samples": [
                [round(s.seconds, 2), s.rss_kib, s.hwm_kib, s.progress] for s in measured.samples
            ],
        },
        "target": {
            "peak_rss_mb_below": RSS_TARGET_MB,
            "verdict": "meets" if peak_kib / 1024 < RSS_TARGET_MB else "below",
            "grew_more_than": GROWTH_LIMIT,
            "grew": None if growth is None else growth > GROWTH_LIMIT,
        },
    }


def _done(progress: float | None) -> str:
    return "?" if progress is None else f"{progress:.0%}"


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1000
    return f"{value:,.1f} GB"


def _print(report: dict[str, Any], measured: Measured) -> None:
    export, seeding, target = report["export"], report["seeding"], report["target"]
    machine, settings = report["machine"], report["settings"]
    commit = (report["git"]["commit"] or "unknown")[:10]
    dirty = " (uncommitted changes)" if report["git"]["dirty"] else ""
    seconds = seeding["seconds"]
    print(
        f"\nDHO export benchmark: commit {commit}{dirty}, {machine['nproc']} CPUs, "
        f"PostgreSQL {machine['postgresql']}"
    )
    print(
        f"seeding: {seconds['total']:,.0f} s ({settings['patients']:,} patients enrolled in "
        f"{seconds['patients']:,.0f} s, {settings['readings']:,} readings in "
        f"{seconds['readings']:,.0f} s and its indexes in {seconds['indexes']:,.0f} s, "
        f"items and resource use "
        f"{seconds['items_and_resource_use']:,.0f} s, VACUUM ANALYZE "
        f"{seconds['vacuum_analyze']:,.0f} s)\n"
    )
    rss = export["rss_mb_at"]

    def mb(value: float | None) -> str:
        return "n/a" if value is None else f"{value:,.0f} MB"

    def rss_at(key: str) -> str:
        return "n/a" if rss[key] is None else mb(rss[key]["rss_mb"])

    exported = export["readings_exported"]
    released, cohort = export["patients_released"], export["patients_in_cohort"]
    rows = [
        (
            "readings",
            "patients",
            "seconds",
            "readings/s",
            "peak RSS",
            "RSS 25%",
            "RSS 50%",
            "RSS 75%",
            "RSS 100%",
            "target",
            "verdict",
        ),
        (
            "n/a" if exported is None else f"{exported:,}",
            "n/a" if released is None else f"{released:,} of {cohort:,}",
            f"{export['seconds']:,.0f}",
            "n/a"
            if export["readings_per_second"] is None
            else f"{export['readings_per_second']:,.0f}",
            mb(export["peak_rss_mb"]),
            rss_at("25%"),
            rss_at("50%"),
            rss_at("75%"),
            rss_at("100%"),
            f"< {RSS_TARGET_MB:,.0f} MB",
            target["verdict"],
        ),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for number, row in enumerate(rows):
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))
        if number == 0:
            print("  ".join("-" * w for w in widths))

    print(
        "\nreadings: written to Observation.ndjson (readings of suppressed patients are not); "
        "patients: released of the cohort"
    )
    print(
        "RSS samples: "
        + ", ".join(
            f"{key} of the run at {v['seconds']:,.0f} s ({_done(v['progress'])} of the bar)"
            for key, v in rss.items()
            if v is not None
        )
    )
    sizes = export["bytes_by_format"]
    print("output: " + (", ".join(f"{k} {_size(v)}" for k, v in sorted(sizes.items())) or "none"))
    cpu = export["cpu"]
    print(
        f"CPU: the export {cpu['export_cores']:.2f} cores ({cpu['export_cpu_seconds']:,.0f} s "
        f"of CPU), PostgreSQL and other {cpu['postgresql_and_other_cores']:.2f}; machine "
        f"{cpu['machine_cores']:.2f} of {cpu['machine_cores_available']} (busy before it: "
        f"{machine.get('busy_cores_before_export', 0):.2f})"
    )
    if export["generalisation"]:
        print(f"k-anonymity: k=5 reached at '{export['generalisation']}'")
    print(f"\npeak RSS < {RSS_TARGET_MB:,.0f} MB: {target['verdict']}")
    growth = export["rss_growth_25_to_100"]
    if growth is None:
        print("RSS growth from the 25 % to the 100 % sample: n/a (too few samples)")
    else:
        grew = "grew by more than" if target["grew"] else "did not grow by more than"
        print(
            f"RSS from the 25 % to the 100 % sample: {growth:+.1%}, so it {grew} {GROWTH_LIMIT:.0%}"
        )
    if measured.exit_code != 0:
        print(f"\nTHE EXPORT FAILED (exit {measured.exit_code}):\n{measured.stderr_tail[-4000:]}")


if __name__ == "__main__":
    raise SystemExit(main())
