"""What a centre's fields must be, checked once for the API and the ``dho centre`` command.

Pure functions: each answers the cleaned value or raises ``InvalidCentre`` naming the
field and saying how to fix it (never echoing the value: an operator's typo may be
someone's identity number pasted into the wrong field).
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Sequence

# Brønnøysundregistrene's check digit: weights over the first eight digits, mod 11.
_ORG_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)
_CENTRE_ID = re.compile(r"[a-z0-9][a-z0-9-]{1,63}")
_KOMMUNENUMMER = re.compile(r"\d{4}")
MAX_MUNICIPALITIES = 100


class InvalidCentre(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def centre_id(value: str) -> str:
    if not _CENTRE_ID.fullmatch(value):
        raise InvalidCentre(
            "id",
            "2 to 64 characters: lower-case letters, digits and '-', starting with a "
            "letter or digit (tokens name centres by it)",
        )
    return value


def name(value: str) -> str:
    cleaned = " ".join(value.split())
    if not cleaned or len(cleaned) > 200:
        raise InvalidCentre("name", "a name of 1 to 200 characters is required")
    return cleaned


def org_number(value: str) -> str:
    """A Norwegian organisation number: nine digits, the last a mod-11 check digit."""
    digits = value.replace(" ", "")
    if len(digits) != 9 or not digits.isdigit():
        raise InvalidCentre("org_number", "an organisation number has nine digits")
    remainder = sum(int(d) * w for d, w in zip(digits, _ORG_WEIGHTS, strict=False)) % 11
    check = 0 if remainder == 0 else 11 - remainder
    if check == 10 or check != int(digits[8]):
        raise InvalidCentre(
            "org_number", "the check digit does not match: not a valid organisation number"
        )
    return digits


def municipalities(values: Sequence[str]) -> list[str]:
    """Four-digit kommunenummer, at least one, each once, in the order given."""
    if not values:
        raise InvalidCentre("municipalities", "name at least one municipality (kommunenummer)")
    if len(values) > MAX_MUNICIPALITIES:
        raise InvalidCentre("municipalities", f"at most {MAX_MUNICIPALITIES} municipalities")
    cleaned: list[str] = []
    for index, value in enumerate(values):
        if not _KOMMUNENUMMER.fullmatch(value) or value.startswith("00"):
            raise InvalidCentre(
                f"municipalities[{index}]", "a kommunenummer has four digits (e.g. 1804)"
            )
        if value in cleaned:
            raise InvalidCentre(f"municipalities[{index}]", "this municipality is listed twice")
        cleaned.append(value)
    return cleaned


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def time_zone(value: str) -> str:
    if value not in _zones():
        raise InvalidCentre("time_zone", "an IANA time zone name is required (e.g. Europe/Oslo)")
    return value
