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
from service.models_base import utcnow
from service.resource_use import evaluation, report
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
    try:
        async with reading(reader) as source:
            result = await evaluation.evaluate(
                source,
                principal,
                centre_id,
                first,
                last,
                ZoneInfo(settings.local_timezone),
                utcnow(),
                min_patient_years=settings.evaluation_min_patient_years,
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
    return report.render(result, lang)


def run(settings: Settings, centre_id: str, first: date, last: date, out: Path, lang: Lang) -> int:
    try:
        html = asyncio.run(build(settings, centre_id, first, last, lang))
    except ApiError as error:
        print(f"dho report: {error.detail}", file=sys.stderr)
        return 2
    out.write_text(html, encoding="utf-8")
    print(f"wrote {out}")
    return 0
