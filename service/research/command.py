"""``dho export --study ID --out DIR``: the same export as the Bulk Data API, run here.

For the operator on the machine: the export is recorded as a job and audited (actor
``dho-cli:<login>``) like one started over HTTP, and written straight into ``DIR``
(which must not exist or be empty) instead of under ``var_dir``. A progress bar goes to
stderr; the files and their SHA-256 to stdout.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from service.audit import service as audit
from service.auth.principal import Principal, Role
from service.database import create_engine, create_read_engine, dispose
from service.fhirkit.catalogue import load_catalogue
from service.models_base import new_id, utcnow
from service.patients.identity_vault import vault_from_settings
from service.research import checks, export, kanon, repository, runner
from service.research.models import ExportStatus
from service.settings import Settings

BAR_WIDTH = 30


def run(settings: Settings, study_id: str, out: Path) -> int:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        print(f"{out} exists and is not an empty folder", file=sys.stderr)
        return 2
    if out.exists():
        out.rmdir()
    return asyncio.run(_run(settings, study_id, out))


def _bar(share: float) -> None:
    filled = round(share * BAR_WIDTH)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {share:4.0%}")
    sys.stderr.flush()


async def _run(settings: Settings, study_id: str, out: Path) -> int:
    engine = create_engine(settings)
    reader = create_read_engine(settings, engine)
    try:
        tools = runner.tools_for(
            engine, vault_from_settings(settings), load_catalogue(settings.fhir_dir), reader
        )
        principal = Principal(f"dho-cli:{getpass.getuser()}", Role.admin, issuer="dho-cli")
        now = utcnow()
        job_id = new_id()
        async with engine.begin() as conn:
            study = await repository.get_study(conn, study_id)
            if study is None or study.expires_at <= now:
                print("no such study, or it has expired", file=sys.stderr)
                return 2
            await repository.insert_job(
                conn,
                {
                    "id": job_id,
                    "study_id": study_id,
                    "status": ExportStatus.running,
                    "request": f"dho export --study {study_id}",
                    "requested_by": principal.subject,
                    "transaction_time": now,
                    "created_at": now,
                    "started_at": now,
                    "heartbeat_at": now,
                    "files": [],
                },
            )
            centres, _ = await repository.links(conn, [study_id])
            for centre_id in centres[study_id]:
                await audit.record(
                    conn,
                    principal,
                    action=audit.EXECUTE,
                    subtype="export",
                    resource_type="Group",
                    resource_id=study_id,
                    centre_id=centre_id,
                )

        async def progress(share: float) -> bool:
            _bar(share)
            async with engine.begin() as conn:
                values = {"progress": share, "heartbeat_at": utcnow()}
                return await repository.move(conn, job_id, runner.RUNNING, **values)

        _bar(0.0)
        try:
            files = await export.run(tools, study_id, now, out, progress)
        except (kanon.AnonymityNotReached, checks.CheckFailed) as error:
            sys.stderr.write("\n")
            print(f"export failed: {error}", file=sys.stderr)
            await _finish(engine, job_id, ExportStatus.failed, [], str(error))
            return 1
        except BaseException:
            sys.stderr.write("\n")
            await _finish(engine, job_id, ExportStatus.failed, [], "the export failed")
            raise
        _bar(1.0)
        sys.stderr.write("\n")
        await _finish(engine, job_id, ExportStatus.completed, files, None)
        for f in files:
            print(f"{f['sha256']}  {out / f['name']}")
        return 0
    finally:
        await dispose(reader, engine)


async def _finish(
    engine: AsyncEngine, job_id: str, status: str, files: list[dict[str, Any]], error: str | None
) -> None:
    async with engine.begin() as conn:
        await repository.move(
            conn,
            job_id,
            runner.RUNNING,
            status=status,
            files=files,
            error=error,
            progress=1.0 if status == ExportStatus.completed else 0.0,
            finished_at=utcnow(),
        )
