"""Build the ingest context for one request from the application state."""

from __future__ import annotations

from datetime import timedelta

from service.ingest.service import IngestContext
from service.models_base import utcnow
from service.state import AppState


def ingest_context(state: AppState) -> IngestContext:
    return IngestContext(
        catalogue=state.catalogue,
        judge=state.judge,
        now=utcnow(),
        future_skew=timedelta(seconds=state.settings.future_skew_seconds),
        local_zone=state.local_zone,
    )
