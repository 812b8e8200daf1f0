"""Effective times as devices send them, and what we can trust of them.

A FHIR dateTime with a time must carry an offset. ``-00:00`` is the PHD IG's way of
saying "local time, offset unknown": read as UTC it would move an 08:00 reading in
Oslo by one or two hours without anyone noticing, so it is read as wall-clock time
in the centre's zone and flagged as doubtful, with the original kept beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo


class InvalidTime(ValueError):
    pass


@dataclass(frozen=True)
class EffectiveTime:
    at: datetime
    original: str
    doubtful: bool = False
    note: str | None = None


def parse_effective(value: object, local_zone: ZoneInfo) -> EffectiveTime:
    if not isinstance(value, str):
        raise InvalidTime("a FHIR dateTime is a JSON string")
    if "T" not in value:
        raise InvalidTime("a reading's time must include the time of day and its UTC offset")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidTime("not a FHIR dateTime") from None
    if parsed.tzinfo is None:
        raise InvalidTime("a FHIR dateTime with a time must carry a UTC offset")
    try:
        if value.endswith("-00:00"):
            wall_clock = parsed.replace(tzinfo=local_zone)
            return EffectiveTime(
                at=wall_clock.astimezone(UTC),
                original=value,
                doubtful=True,
                note=f"offset unknown (-00:00): read as local time in {local_zone.key}",
            )
        return EffectiveTime(at=parsed.astimezone(UTC), original=value)
    except OverflowError:
        raise InvalidTime("the time is outside the range of dates this service stores") from None
