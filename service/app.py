"""The FastAPI application: routers by capability, built around a lifespan that owns
the engine, the token verifier and the other long-lived parts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI

from service import capability, health, logs
from service.auth.dev_issuer import load_or_create_key, public_keyset
from service.auth.tokens import IssuerKeys, TokenVerifier
from service.centres.router import router as centres_router
from service.database import create_engine
from service.errors import install_handlers
from service.fhirkit.catalogue import load_catalogue
from service.ingest.router import router as ingest_router
from service.ingest.triage_seam import NoTriage, ReadingJudge
from service.middleware import RequestMiddleware
from service.patients.identity_vault import vault_from_settings
from service.patients.router import router as patients_router
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
                judge=judge or NoTriage(),
                local_zone=ZoneInfo(settings.local_timezone),
            )
            try:
                yield
            finally:
                await engine.dispose()

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
    install_handlers(app)
    app.include_router(health.router)
    app.include_router(capability.router)
    app.include_router(ingest_router)
    app.include_router(patients_router)
    app.include_router(centres_router)
    app.add_middleware(RequestMiddleware)
    logs.configure(settings.log_level)
    return app
