"""The ``dho`` command: serve, migrate, demo, token, worker, report, export, centre,
import."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from service.settings import get_settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dho", description="Digital home follow-up backend")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)

    commands.add_parser("migrate", help="bring the database schema to the newest revision")
    commands.add_parser("demo", help="load demo centres, patients and readings (idempotent)")
    worker = commands.add_parser("worker", help="run background jobs")
    worker.add_argument(
        "--once",
        action="store_true",
        help="run every job once now and exit (status 1 if a job failed)",
    )
    commands.add_parser(
        "reencrypt",
        help="move identity numbers and study keys to the current data key (after a rotation)",
    )

    token = commands.add_parser("token", help="mint a development token (dev issuer only)")
    token.add_argument(
        "--role",
        required=True,
        choices=["patient", "nurse", "researcher", "admin", "system", "auditor"],
    )
    token.add_argument("--subject", required=True, help="user id; for a patient, the patient id")
    token.add_argument("--centre", action="append", default=[], help="centre id (repeatable)")
    token.add_argument("--scope", action="append", default=None, help="override the scopes")
    token.add_argument("--minutes", type=int, default=480)

    report = commands.add_parser("report", help="write a centre's evaluation as one HTML file")
    report.add_argument("--centre", required=True, help="centre id")
    report.add_argument("--from", dest="first", required=True, type=date.fromisoformat)
    report.add_argument("--to", dest="last", required=True, type=date.fromisoformat)
    report.add_argument("--out", required=True, type=Path, help="the HTML file to write")
    report.add_argument("--lang", choices=["nb", "en"], default="nb")

    from service.centres import command as centre_command

    centre_command.add_arguments(commands)

    from service.cost_models import command as cost_model_command

    cost_model_command.add_arguments(commands)

    imports = commands.add_parser(
        "import", help="a patient's earlier readings (FHIR NDJSON), stored as history"
    )
    imports.add_argument("--patient", required=True, help="patient id")
    imports.add_argument("--file", required=True, type=Path, help="one Observation a line")

    export = commands.add_parser("export", help="write a study's de-identified export")
    export.add_argument("--study", required=True, help="study id")
    export.add_argument("--out", required=True, type=Path, help="a new or empty folder")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {
        "serve": _serve,
        "migrate": _migrate,
        "demo": _demo,
        "token": _token,
        "worker": _worker,
        "reencrypt": _reencrypt,
        "report": _report,
        "export": _export,
        "centre": _centre,
        "cost-model": _cost_model,
        "import": _import,
    }[args.command]
    return handler(args)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from service.auth.dev_issuer import load_or_create_key
    from service.logs import configure

    settings = get_settings()
    configure(settings.log_level)
    if settings.dev_issuer_enabled:
        load_or_create_key(settings.var_dir)  # once, before the workers start
        database = _safe_url(settings.database_url)
        print(
            f"DHO on http://{args.host}:{args.port}  (database: {database})\n"
            "Get a token:  .venv/bin/dho token --role nurse --subject nurse-1 --centre salten\n"
            f'Try it:       curl -H "Authorization: Bearer $TOKEN" '
            f"'http://{args.host}:{args.port}/fhir/Observation?_count=5'\n"
            f"API docs:     http://{args.host}:{args.port}/docs\n"
            f"Console:      http://{args.host}:{args.port}/console  "
            "(sign in as a demo nurse with one click)\n"
            f"Tablet:       http://{args.host}:{args.port}/me  "
            "(the patient's page; sign in as a demo patient)",
            flush=True,
        )
    uvicorn.run(
        "service.asgi:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        # SIGTERM: the socket closes, requests in flight get this long to finish.
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
    )
    return 0


def _migrate(_: argparse.Namespace) -> int:
    from service.migrate import upgrade

    settings = get_settings()
    upgrade(settings.migrate_database_url or settings.database_url)
    print("database schema is up to date")
    return 0


def _demo(_: argparse.Namespace) -> int:
    from service import demo
    from service.database import create_engine
    from service.fhirkit.catalogue import load_catalogue
    from service.ingest.context import context_for
    from service.patients.identity_vault import vault_from_settings
    from service.queue.triage import Triage

    settings = get_settings()

    async def run() -> dict[str, int]:
        engine = create_engine(settings)
        try:
            ctx = context_for(settings, load_catalogue(settings.fhir_dir), Triage())
            return await demo.load(engine, ctx, vault_from_settings(settings))
        finally:
            await engine.dispose()

    counts = asyncio.run(run())
    print(
        f"demo: {counts['patients_created']} patients and {counts['readings_created']} readings "
        "added (centres: salten, trondheim)"
    )
    return 0


def _token(args: argparse.Namespace) -> int:
    from service.auth.dev_issuer import mint_token
    from service.auth.principal import Role

    settings = get_settings()
    if not settings.dev_issuer_enabled:
        print("an external issuer is configured: get tokens from it", file=sys.stderr)
        return 2
    print(
        mint_token(
            settings,
            role=Role(args.role),
            subject=args.subject,
            centres=args.centre,
            scopes=args.scope,
            lifetime_seconds=args.minutes * 60,
        )
    )
    return 0


def _worker(args: argparse.Namespace) -> int:
    from service import worker
    from service.journal import sender as journal
    from service.research import runner as exports

    if args.once:
        outcomes = asyncio.run(worker.run_once(get_settings()))
        for outcome in outcomes:
            if outcome.result is not None:
                print(f"{outcome.job}: {outcome.result}")
            else:
                print(f"{outcome.job}: FAILED ({outcome.error}; see the log)", file=sys.stderr)
        return 1 if any(o.result is None for o in outcomes) else 0

    async def both() -> None:
        # Research exports and the journal's outbox run beside the jobs: loops of their
        # own, claimed per row.
        settings = get_settings()
        stop = asyncio.Event()
        work = asyncio.gather(
            worker.run(settings, stop=stop),
            exports.run(settings, stop),
            journal.run(settings, stop),
        )
        await drain.on_signal(work, stop, settings.shutdown_grace_seconds)

    from service.worker import drain

    asyncio.run(both())
    return 0


def _centre(args: argparse.Namespace) -> int:
    from service.centres import command

    return command.run(get_settings(), args)


def _cost_model(args: argparse.Namespace) -> int:
    from service.cost_models import command

    return command.run(get_settings(), args)


def _import(args: argparse.Namespace) -> int:
    from service.ingest import history_command

    return history_command.run(get_settings(), args.patient, args.file)


def _export(args: argparse.Namespace) -> int:
    from service.research import command

    return command.run(get_settings(), args.study, args.out)


def _report(args: argparse.Namespace) -> int:
    from service.resource_use import report_command

    return report_command.run(
        get_settings(), args.centre, args.first, args.last, args.out, args.lang
    )


def _safe_url(url: str) -> str:
    """The database URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _reencrypt(_: argparse.Namespace) -> int:
    """Move everything sealed under a retired data key to the current one, so the retired
    key can go: identity numbers, then study keys. A study whose key this process cannot
    open is reported and stops nothing, but the exit status is 1, so the operator does
    not drop a key that study still needs."""
    from service.database import create_engine
    from service.patients import service as patients
    from service.patients.identity_vault import vault_from_settings
    from service.research import rekey
    from service.research.pseudonyms import StudyKeyring

    settings = get_settings()
    vault = vault_from_settings(settings)

    async def run() -> tuple[int, rekey.Outcome]:
        engine = create_engine(settings)
        moved = 0
        try:
            while True:
                async with engine.begin() as conn:
                    batch = await patients.reencrypt_batch(conn, vault)
                if batch == 0:
                    break
                moved += batch
            return moved, await rekey.reseal_study_keys(engine, StudyKeyring.from_vault(vault))
        finally:
            await engine.dispose()

    moved, studies = asyncio.run(run())
    print(f"reencrypt: {moved} identity numbers moved to key {vault.key_id}")
    print(f"reencrypt: {studies.resealed} study keys re-sealed under key {vault.key_id}")
    if not studies.unsealable:
        return 0
    print(
        f"reencrypt: {len(studies.unsealable)} study keys could not be re-sealed. Those "
        "studies cannot be exported without the data key named: do not drop it, put it "
        "(back) in DHO_RETIRED_DATA_KEYS and run again.",
        file=sys.stderr,
    )
    why = {
        rekey.Reason.key_not_held: "which this process does not hold",
        rekey.Reason.did_not_open: "which does not open it (another key under that id?)",
    }
    for left in studies.unsealable:
        print(
            f"  study {left.study_id}: sealed under data key {left.key_id}, {why[left.reason]}",
            file=sys.stderr,
        )
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
