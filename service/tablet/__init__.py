"""The patient's tablet page: server-rendered pages under ``/me`` on the same services,
principal, tenancy and audit as the patient's API (``/api/me``, ``/fhir``). See README,
"The patient's tablet page"."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"


def install(app: FastAPI) -> None:
    """Routes and static files; the login errors share the console's handlers."""
    from service.tablet import auth_routes, form_routes, home_routes, message_routes, reading_routes

    app.include_router(auth_routes.router)
    app.include_router(home_routes.router)
    app.include_router(reading_routes.router)
    app.include_router(form_routes.router)
    app.include_router(message_routes.router)
    app.mount("/me/static", StaticFiles(directory=STATIC), name="tablet-static")
