"""Parameters of ``GET /fhir/Observation``, parsed into what the repository needs.

Unknown or malformed parameters are refused with a 400 naming them, never ignored:
a search that silently ignores ``date=`` answers the wrong question.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from starlette.datastructures import QueryParams

from service.fhirkit.bundles import decode_cursor
from service.fhirkit.catalogue import Catalogue
from service.fhirkit.outcome import FhirError
from service.fhirkit.params import positive_count

KNOWN = {"patient", "subject", "code", "date", "status", "_count", "_sort", "_cursor"}
# FHIR R4 ObservationStatus. Without ``status``, a search leaves retracted readings
# (entered-in-error) out; naming it includes them (fhir/README.md).
STATUSES = frozenset(
    {
        "registered",
        "preliminary",
        "final",
        "amended",
        "corrected",
        "cancelled",
        "entered-in-error",
        "unknown",
    }
)
# Bounds on what one search may ask for: more than this is no clinical question, and
# every value is a bound parameter (PostgreSQL takes at most 32,767 per statement).
MAX_CODES = 50
MAX_DATES = 4
_EARLIEST = datetime(1800, 1, 1, tzinfo=UTC)
_LATEST = datetime(9000, 1, 1, tzinfo=UTC)
_PREFIXES = ("eq", "ge", "gt", "le", "lt")


@dataclass(frozen=True)
class ObservationQuery:
    patient_id: str | None
    codes: list[str] | None
    date_bounds: list[tuple[str, datetime]]
    newest_first: bool
    after: tuple[datetime, str] | None
    count: int
    statuses: list[str] | None = None


def parse(
    params: QueryParams, catalogue: Catalogue, *, default_count: int, max_count: int, zone: ZoneInfo
) -> ObservationQuery:
    unknown = sorted(set(params.keys()) - KNOWN)
    if unknown:
        raise _bad(f"unsupported search parameter(s): {', '.join(unknown)}", unknown[0])
    patient = params.get("patient") or params.get("subject")
    patient_id = patient.removeprefix("Patient/") if patient else None
    codes: list[str] | None = None
    if "code" in params:
        codes = []
        tokens = ",".join(params.getlist("code")).split(",")
        if len(tokens) > MAX_CODES:
            raise _bad(f"code: at most {MAX_CODES} codes in one search", "code")
        for token in tokens:
            found = catalogue.find_by_search_token(token)
            codes.extend(m.code for m in found)
            if not found:
                codes.append(token.rpartition("|")[2])
    bounds: list[tuple[str, datetime]] = []
    if len(params.getlist("date")) > MAX_DATES:
        raise _bad(f"date: at most {MAX_DATES} date parameters in one search", "date")
    for value in params.getlist("date"):
        bounds.extend(_date_bounds(value, zone))
    statuses = _statuses(params.getlist("status")) if "status" in params else None
    sort = params.get("_sort", "-date")
    if sort not in ("date", "-date"):
        raise _bad("_sort supports date and -date", "_sort")
    count = positive_count(params.get("_count"), default_count)
    if count is None:
        raise _bad("_count must be a positive integer", "_count")
    after = None
    if "_cursor" in params:
        decoded = decode_cursor(params["_cursor"])
        if decoded is None or len(decoded) != 2:
            raise _bad("the paging cursor is not valid", "_cursor")
        try:
            after = (_in_range(datetime.fromisoformat(str(decoded[0]))), str(decoded[1]))
        except (ValueError, OverflowError):
            raise _bad("the paging cursor is not valid", "_cursor") from None
    return ObservationQuery(
        patient_id=patient_id,
        codes=codes,
        date_bounds=bounds,
        newest_first=sort == "-date",
        after=after,
        count=min(count, max_count),
        statuses=statuses,
    )


def _statuses(values: list[str]) -> list[str]:
    tokens = {t.rpartition("|")[2] for t in ",".join(values).split(",")}
    if not tokens or not tokens <= STATUSES:
        raise _bad("status must be FHIR Observation status codes, comma-separated", "status")
    return sorted(tokens)


def _date_bounds(value: str, zone: ZoneInfo) -> list[tuple[str, datetime]]:
    prefix = value[:2] if value[:2] in _PREFIXES else "eq"
    text = value[2:] if value[:2] in _PREFIXES else value
    start, end = _interval(text, zone)
    return {
        "eq": [("ge", start), ("lt", end)],
        "ge": [("ge", start)],
        "gt": [("ge", end)],
        "lt": [("lt", start)],
        "le": [("lt", end)],
    }[prefix]


def _interval(text: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The interval a FHIR date value stands for: a day is all of that (local) day."""
    try:
        if "T" in text:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=zone)
            return _in_range(moment), _in_range(moment + timedelta(seconds=1))
        parts = [int(p) for p in text.split("-")]
        if len(parts) == 1:
            start = datetime(parts[0], 1, 1, tzinfo=zone)
            return _in_range(start), _in_range(start.replace(year=parts[0] + 1))
        if len(parts) == 2:
            start = datetime(parts[0], parts[1], 1, tzinfo=zone)
            end = datetime(parts[0] + parts[1] // 12, parts[1] % 12 + 1, 1, tzinfo=zone)
            return _in_range(start), _in_range(end)
        start = datetime(parts[0], parts[1], parts[2], tzinfo=zone)
        return _in_range(start), _in_range(start + timedelta(days=1))
    except (ValueError, OverflowError):
        raise _bad(
            "date must be a FHIR date or dateTime, with an optional prefix", "date"
        ) from None


def _in_range(moment: datetime) -> datetime:
    """An aware time the database can hold: year 1 in Oslo is year 0 in UTC, which
    neither Python nor the drivers can represent."""
    if moment.tzinfo is None:
        raise ValueError("a time without an offset")
    moment.astimezone(UTC)  # raises OverflowError below year 1 UTC
    if not (_EARLIEST <= moment <= _LATEST):
        raise ValueError("out of range")
    return moment


def _bad(diagnostics: str, parameter: str) -> FhirError:
    return FhirError.one(400, "invalid", diagnostics, parameter)
