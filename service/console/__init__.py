"""The nurse console: server-rendered pages under ``/console`` on the same services,
principal, tenancy and audit as the API (see README, "The nurse console")."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"


def install(app: FastAPI, *, dev_issuer: bool) -> None:
    """Routes, static files, error pages; the development login when it is enabled.
    Call after ``service.errors.install_handlers``."""
    from service.console import (
        auth_routes,
        careplan_routes,
        centre_routes,
        contact_routes,
        enrol_routes,
        errors,
        kit_routes,
        message_routes,
        patient_routes,
        queue_routes,
    )

    app.include_router(auth_routes.router)
    app.include_router(queue_routes.router)
    app.include_router(patient_routes.router)
    app.include_router(careplan_routes.router)
    app.include_router(centre_routes.router)
    app.include_router(enrol_routes.router)
    app.include_router(kit_routes.router)
    app.include_router(message_routes.router)
    app.include_router(contact_routes.router)
    if dev_issuer:
        from service.auth import dev_login

        app.include_router(dev_login.router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    errors.install(app)
