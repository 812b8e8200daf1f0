"""``dho report``: the evaluation of one centre and period written to an HTML file.

The command runs on the operator's machine with database access, so it acts as an
admin of that one centre and leaves an audit record like the API would.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from service.audit import service as audit
from service.auth.principal import Principal, Role
from service.database import create_engine, create_read_engine, dispose, reading
from service.errors import ApiError
from service.experience import service as experience
from service.models_base import utcnow
from service.questionnaires.forms import load_forms
from service.resource_use import evaluation, report, trend
from service.resource_use.report_text import Lang
from service.settings import Settings


def operator(centre_id: str) -> Principal:
    user = os.environ.get("USER") or os.environ.get("USERNAME") or "operator"
    return Principal(subject=f"cli:{user}", role=Role.admin, centres=(centre_id,))


async def build(settings: Settings, centre_id: str, first: date, last: date, lang: Lang) -> str:
    """The report's HTML; raises ``ApiError`` for an unknown centre or a bad period."""
    engine = create_engine(settings)
    reader = create_read_engine(settings, engine)
    principal = operator(centre_id)
    zone, now = ZoneInfo(settings.local_timezone), utcnow()
    try:
        async with reading(reader) as source:
            result = await evaluation.evaluate(
                source,
                principal,
                centre_id,
                first,
                last,
                zone,
                now,
                min_patient_years=settings.evaluation_min_patient_years,
            )
            month_from, month_to = months_of(first, last)
            monthly = await trend.trend(
                source,
                principal,
                centre_id,
                month_from,
                month_to,
                zone,
                now,
                min_patient_years=settings.evaluation_min_patient_years,
            )
            said = await experience.distributions(
                source,
                principal,
                load_forms(settings.fhir_dir),
                centre_id,
                first,
                last,
                zone,
                now,
            )
        async with engine.begin() as conn:
            await audit.record(
                conn,
                principal,
                action=audit.EXECUTE,
                subtype="export",
                resource_type="MeasureReport",
                centre_id=centre_id,
                query=f"from={first.isoformat()}&to={last.isoformat()}&lang={lang}",
            )
    finally:
        await dispose(reader, engine)
    return report.render(result, lang, trend=monthly, experience=said)


def months_of(first: date, last: date) -> tuple[str, str]:
    """The months the period touches, the last ``trend.MAX_MONTHS`` of them at most."""
    final = last.year * 12 + last.month - 1
    year, month = divmod(max(first.year * 12 + first.month - 1, final - trend.MAX_MONTHS + 1), 12)
    return f"{year:04d}-{month + 1:02d}", f"{last.year:04d}-{last.month:02d}"


def run(settings: Settings, centre_id: str, first: date, last: date, out: Path, lang: Lang) -> int:
    try:
        html = asyncio.run(build(settings, centre_id, first, last, lang))
    except ApiError as error:
        print(f"dho report: {error.detail}", file=sys.stderr)
        return 2
    out.write_text(html, encoding="utf-8")
    print(f"wrote {out}")
    return 0
