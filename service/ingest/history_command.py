"""``dho import --patient ID --file readings.ndjson``: a patient's earlier readings from
another service, as history (``service.ingest.history``).

The operator acts as a system client of the patient's centre, so the ordinary ingest
and its tenancy apply; the import is one transaction, audited as one create of the
patient's Observations (actor ``dho-cli:<login>``). A refused line names its number and
the element, and nothing is stored. Exit status 0, or 2 when refused.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service.settings import Settings

if TYPE_CHECKING:
    from service.ingest.history import Imported


def run(settings: Settings, patient_id: str, path: Path) -> int:
    from service.ingest import history

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        print(f"cannot read {path}: {type(error).__name__}", file=sys.stderr)
        return 2
    try:
        resources = history.parse_ndjson(text)
        imported = asyncio.run(_run(settings, patient_id, resources))
    except history.BadLine as error:
        print(f"refused, nothing stored: {error}", file=sys.stderr)
        return 2
    except LookupError:
        print("refused: no such patient", file=sys.stderr)
        return 2
    print(
        f"import: {imported.stored} readings stored as history, "
        f"{imported.already_there} already stored"
    )
    return 0


async def _run(
    settings: Settings, patient_id: str, resources: Sequence[tuple[int, dict[str, Any]]]
) -> Imported:
    from service.audit import service as audit
    from service.auth.principal import Principal, Role
    from service.database import create_engine
    from service.fhirkit.catalogue import load_catalogue
    from service.ingest import history
    from service.ingest.context import context_for
    from service.ingest.triage_seam import NoTriage
    from service.patients import repository as patients

    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            centre_id = await patients.centre_of(conn, patient_id)
            if centre_id is None:
                raise LookupError(patient_id)
            principal = Principal(
                f"dho-cli:{getpass.getuser()}", Role.system, (centre_id,), issuer="dho-cli"
            )
            # No judge at all, not only the history flag: nothing here may raise an item.
            ctx = context_for(settings, load_catalogue(settings.fhir_dir), NoTriage())
            imported = await history.import_observations(
                conn, principal, patient_id, resources, ctx
            )
            await audit.record(
                conn,
                principal,
                action=audit.CREATE,
                subtype="import",
                resource_type="Observation",
                patient_id=patient_id,
                centre_id=centre_id,
                status=201 if imported.stored else 200,
            )
            return imported
    finally:
        await engine.dispose()
