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


def as_the_device_said(original: str) -> str:
    """A reading's time as the device stated it, before any clock correction: the UTC
    instant when its offset is known, the wall-clock time when it is not (``-00:00``).

    What identifies a reading must not move when we learn more about the device's
    clock (a newer coincident timestamp) or change the centre's zone. ``original``
    has already passed ``parse_effective``.
    """
    parsed = datetime.fromisoformat(original.replace("Z", "+00:00"))
    if original.endswith("-00:00"):
        return "wall " + parsed.replace(tzinfo=None).isoformat()
    return parsed.astimezone(UTC).isoformat()
