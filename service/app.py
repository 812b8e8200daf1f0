"""The FastAPI application: routers by capability, built around a lifespan that owns
the engine, the token verifier and the other long-lived parts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI

from service import (
    capability,
    console,
    health,
    logs,
    openapi_contract,
    statement_counts,
    tablet,
    worker,
)
from service.admission import Admission
from service.audit.refusals import record_refusal
from service.audit.router import router as audit_router
from service.auth.dev_issuer import load_or_create_key, public_keyset
from service.auth.tokens import IssuerKeys, TokenVerifier
from service.careplans.router import fhir_router as careplans_fhir_router
from service.careplans.router import router as careplans_router
from service.centres.router import api_router as centres_api_router
from service.centres.router import router as centres_router
from service.contacts.router import router as contacts_router
from service.cost_models.router import router as cost_models_router
from service.database import create_engine, create_read_engine, dispose
from service.devices.loans_router import router as device_loans_router
from service.devices.router import router as devices_fhir_router
from service.errors import install_handlers
from service.experience.router import router as experience_router
from service.fhirkit.catalogue import load_catalogue
from service.ingest.router import router as ingest_router
from service.ingest.triage_seam import ReadingJudge
from service.journal import sender as journal_sender
from service.journal.router import config_router as journal_config_router
from service.journal.router import router as journal_router
from service.me.router import router as me_router
from service.messages.router import api_router as messages_api_router
from service.messages.router import router as messages_router
from service.middleware import RequestMiddleware
from service.patients.identity_vault import vault_from_settings
from service.patients.router import router as patients_router
from service.questionnaires.router import router as questionnaires_router
from service.queue.events import QueueNotifier
from service.queue.router import policy_router as queue_policy_router
from service.queue.router import router as queue_router
from service.queue.triage import Triage
from service.research import runner as research_runner
from service.research.router import fhir_router as research_fhir_router
from service.research.router import router as research_router
from service.resource_use.router import router as resource_use_router
from service.settings import Settings, get_settings
from service.state import AppState


def trusted_issuers(settings: Settings) -> list[IssuerKeys]:
    if settings.dev_issuer_enabled:
        key = load_or_create_key(settings.var_dir)
        return [
            IssuerKeys(
                issuer=settings.dev_issuer,
                audience=settings.dev_audience,
                keyset=public_keyset(key),
            )
        ]
    return [
        IssuerKeys(
            issuer=i.issuer,
            audience=i.audience,
            jwks_url=i.jwks_url,
            cache_seconds=settings.jwks_cache_seconds,
        )
        for i in settings.oidc_issuers
    ]


def create_app(settings: Settings | None = None, judge: ReadingJudge | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        statement_counts.count_statements(engine, settings.statement_counts_dir)
        read_engine = create_read_engine(settings, engine)
        queue_events = QueueNotifier(engine)
        async with httpx.AsyncClient() as http:
            app.state.dho = AppState(
                settings=settings,
                engine=engine,
                verifier=TokenVerifier(
                    trusted_issuers(settings),
                    http=http,
                    leeway_seconds=settings.clock_skew_seconds,
                ),
                vault=vault_from_settings(settings),
                catalogue=load_catalogue(settings.fhir_dir),
                judge=judge or Triage(),
                local_zone=ZoneInfo(settings.local_timezone),
                queue_events=queue_events,
                admission=Admission.from_settings(settings),
                read_engine=read_engine,
            )
            await queue_events.start()
            stop = asyncio.Event()
            jobs = None
            if settings.run_jobs_in_process:
                jobs = asyncio.create_task(worker.run_jobs(engine, stop))
            exports = None
            if settings.run_jobs_in_process:
                exports = asyncio.create_task(
                    research_runner.run_loop(
                        research_runner.tools_for(
                            engine, app.state.dho.vault, app.state.dho.catalogue, read_engine
                        ),
                        settings,
                        stop,
                    )
                )
            journal = None
            if settings.run_jobs_in_process:
                journal = asyncio.create_task(
                    journal_sender.run_loop(engine, settings, app.state.dho.vault, stop)
                )
            try:
                yield
            finally:
                await queue_events.stop()
                stop.set()
                if jobs is not None:
                    await jobs
                if exports is not None:
                    await exports
                if journal is not None:
                    await journal
                await dispose(read_engine, engine)

    app = FastAPI(
        title="DHO: digital home follow-up",
        version="0.1.0",
        description=(
            "FHIR ingest of home readings, triage queue, resource use and research export "
            "for follow-up centres (digital hjemmeoppfølging)."
        ),
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    install_handlers(app, on_refusal=record_refusal)
    app.include_router(health.router)
    app.include_router(capability.router)
    app.include_router(ingest_router)
    app.include_router(patients_router)
    app.include_router(centres_router)
    app.include_router(audit_router)
    app.include_router(careplans_router)
    app.include_router(careplans_fhir_router)
    app.include_router(queue_router)
    app.include_router(queue_policy_router)
    app.include_router(centres_api_router)
    app.include_router(cost_models_router)
    app.include_router(research_router)
    app.include_router(research_fhir_router)
    app.include_router(resource_use_router)
    app.include_router(devices_fhir_router)
    app.include_router(device_loans_router)
    app.include_router(questionnaires_router)
    app.include_router(messages_router)
    app.include_router(messages_api_router)
    app.include_router(me_router)
    app.include_router(experience_router)
    app.include_router(contacts_router)
    app.include_router(journal_router)
    app.include_router(journal_config_router)
    # The nurse console's and the tablet's pages (and the development login), after the
    # API's handlers.
    tablet.install(app)
    console.install(app, dev_issuer=settings.dev_issuer_enabled)
    openapi_contract.install(app)
    app.add_middleware(
        RequestMiddleware,
        max_body_bytes=settings.max_body_bytes,
        bundle_max_body_bytes=settings.bundle_max_body_bytes,
    )
    logs.configure(settings.log_level)
    return app
