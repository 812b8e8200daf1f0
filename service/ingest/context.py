"""The ingest context for one request (or one CLI run): the clock read once, the
configured limits, the catalogue and the judge."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from service.fhirkit.catalogue import Catalogue
from service.ingest.service import IngestContext
from service.ingest.triage_seam import ReadingJudge
from service.models_base import utcnow
from service.settings import Settings
from service.state import AppState


def context_for(settings: Settings, catalogue: Catalogue, judge: ReadingJudge) -> IngestContext:
    return IngestContext(
        catalogue=catalogue,
        judge=judge,
        now=utcnow(),
        future_skew=timedelta(seconds=settings.future_skew_seconds),
        local_zone=ZoneInfo(settings.local_timezone),
    )


def ingest_context(state: AppState) -> IngestContext:
    return IngestContext(
        catalogue=state.catalogue,
        judge=state.judge,
        now=utcnow(),
        future_skew=timedelta(seconds=state.settings.future_skew_seconds),
        local_zone=state.local_zone,  # parsed once at start-up
    )
