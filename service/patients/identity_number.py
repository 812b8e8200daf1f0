"""Norwegian national identity numbers: fødselsnummer and D-nummer.

An identity number is personal data on its own: it names one person and gives their birth
date and sex. So no exception message and no ``repr`` here ever contains the number, which lets
callers log a rejection, or return its message to a client, without leaking whom it was about.

Layout, eleven digits ``DDMMYYIIIKK``:

* ``DDMMYY`` is the birth date. A D-number (given to people without a fødselsnummer) adds 4 to
  the first digit, i.e. 40 to the day. Skatteetaten may base a D-number on the registration
  date when no number is free for the birth date, so a D-number's date is not always the
  person's birth date.
* ``III`` is the individual number; together with ``YY`` it says the century, and its last
  digit is odd for men and even for women.
* ``KK`` are two mod-11 check digits. A check digit that would be 10 is never issued, so the
  individual number is skipped for that date instead.

The test environments use numbers that can never collide with real ones, because the month is
moved out of 1-12: NAV's synthetic numbers (Dolly) add 40 to the month and Skatteetaten's
synthetic numbers (Tenor) add 80. Both are accepted and marked ``synthetic``, so that a
production caller can refuse them with ``allow_synthetic=False`` while demo and test
environments keep working with the numbers their registries hand out. Month + 40 is also the
health sector's convention for an internal H-number (hjelpenummer); such numbers are never valid
outside one organisation and are read here as synthetic, which is what they are to us.

Not handled: from 2032 Skatteetaten will issue numbers whose first check digit may take
other values and whose individual number no longer says the sex; this module will need to learn
that rule when it is published in final form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

FNR_SYSTEM = "urn:oid:2.16.578.1.12.4.1.4.1"
DNR_SYSTEM = "urn:oid:2.16.578.1.12.4.1.4.2"

_K1_WEIGHTS = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_K2_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)

# [0-9], not \d: \d also matches other scripts' digits, which int() would happily convert.
_ELEVEN_DIGITS = re.compile(r"[0-9]{11}")
_NINE_DIGITS = re.compile(r"[0-9]{9}")

D_NUMBER_DAY_OFFSET = 40
NAV_SYNTHETIC_MONTH_OFFSET = 40
SKATTEETATEN_SYNTHETIC_MONTH_OFFSET = 80

EARLIEST_BIRTH_YEAR = 1854
LATEST_BIRTH_YEAR = 2039


class InvalidIdentityNumber(ValueError):
    """Raised for a malformed number; the message names the flaw and never the number."""


@dataclass(frozen=True, repr=False)
class IdentityNumber:
    value: str
    kind: Literal["fnr", "dnr"]
    birth_date: date
    sex: Literal["male", "female"]
    synthetic: bool = False

    @property
    def system(self) -> str:
        """The FHIR ``Identifier.system`` OID, which differs between the two kinds."""
        return FNR_SYSTEM if self.kind == "fnr" else DNR_SYSTEM

    def __repr__(self) -> str:
        # A dataclass repr would print the number into logs and tracebacks.
        return f"IdentityNumber(kind={self.kind!r}, synthetic={self.synthetic!r}, value=<redacted>)"


def _check_digit(digits: str, weights: tuple[int, ...]) -> int | None:
    remainder = sum(int(digit) * weight for digit, weight in zip(digits, weights, strict=True)) % 11
    check = (11 - remainder) % 11  # 11 - 0 = 11 is written as 0.
    return None if check == 10 else check


def check_digits(first_nine: str) -> str | None:
    """Both check digits for the first nine digits, or None when that prefix cannot be issued.

    Public so that tests and demo tooling can build D-numbers and synthetic numbers without
    repeating the arithmetic.
    """
    if _NINE_DIGITS.fullmatch(first_nine) is None:
        raise ValueError("expected 9 digits")
    k1 = _check_digit(first_nine, _K1_WEIGHTS)
    if k1 is None:
        return None
    k2 = _check_digit(f"{first_nine}{k1}", _K2_WEIGHTS)
    if k2 is None:
        return None
    return f"{k1}{k2}"


def _century(individual: int, two_digit_year: int) -> int | None:
    """The century an individual number was issued for, or None if that pair is never issued."""
    if individual <= 499:
        return 1900
    if individual <= 749 and two_digit_year >= 54:
        return 1800
    if two_digit_year <= 39:
        return 2000
    if individual >= 900:
        return 1900
    return None


def parse_identity_number(value: str, *, allow_synthetic: bool = True) -> IdentityNumber:
    """Validate and decode; raises InvalidIdentityNumber whose message is safe to show anyone.

    The check digits are verified before the date so that any single mistyped digit is reported
    as a check digit mismatch, whatever field it landed in.
    """
    if not isinstance(value, str) or _ELEVEN_DIGITS.fullmatch(value) is None:
        raise InvalidIdentityNumber("not 11 digits")
    if check_digits(value[:9]) != value[9:]:
        raise InvalidIdentityNumber("check digit does not match")

    day, month, year = int(value[0:2]), int(value[2:4]), int(value[4:6])
    individual = int(value[6:9])

    kind: Literal["fnr", "dnr"] = "fnr"
    if day > D_NUMBER_DAY_OFFSET:
        kind = "dnr"
        day -= D_NUMBER_DAY_OFFSET

    synthetic = False
    if month > SKATTEETATEN_SYNTHETIC_MONTH_OFFSET:
        synthetic = True
        month -= SKATTEETATEN_SYNTHETIC_MONTH_OFFSET
    elif month > NAV_SYNTHETIC_MONTH_OFFSET:
        synthetic = True
        month -= NAV_SYNTHETIC_MONTH_OFFSET
    if synthetic and not allow_synthetic:
        raise InvalidIdentityNumber("synthetic test number not accepted here")

    century = _century(individual, year)
    if century is None:
        raise InvalidIdentityNumber("individual number is not issued for that birth year")
    try:
        birth_date = date(century + year, month, day)
    except ValueError:
        raise InvalidIdentityNumber("no such birth date") from None

    return IdentityNumber(
        value=value,
        kind=kind,
        birth_date=birth_date,
        sex="female" if int(value[8]) % 2 == 0 else "male",
        synthetic=synthetic,
    )


def is_valid(value: str, *, allow_synthetic: bool = True) -> bool:
    try:
        parse_identity_number(value, allow_synthetic=allow_synthetic)
    except InvalidIdentityNumber:
        return False
    return True


def generate_identity_number(
    birth_date: date,
    individual: int,
    *,
    female: bool | None = None,
    kind: Literal["fnr", "dnr"] = "fnr",
) -> str:
    """A valid number for ``birth_date``, for demo data and tests.

    Starts at ``individual`` and walks upwards, skipping individual numbers that are not issued
    for that birth year, that give the other sex (when ``female`` is given), or whose check
    digit would be 10 - just as the registry skips them. Raises ValueError when none is left
    before 999, so callers choose their own starting points and get distinct numbers.
    """
    if not 0 <= individual <= 999:
        raise ValueError("individual number must be between 0 and 999")
    if not EARLIEST_BIRTH_YEAR <= birth_date.year <= LATEST_BIRTH_YEAR:
        raise ValueError(
            f"only birth years {EARLIEST_BIRTH_YEAR}-{LATEST_BIRTH_YEAR} can be encoded"
        )
    two_digit_year = birth_date.year % 100
    century = birth_date.year - two_digit_year
    day = birth_date.day + (D_NUMBER_DAY_OFFSET if kind == "dnr" else 0)
    prefix = f"{day:02d}{birth_date.month:02d}{two_digit_year:02d}"
    for candidate in range(individual, 1000):
        if _century(candidate, two_digit_year) != century:
            continue
        if female is not None and (candidate % 2 == 0) != female:
            continue
        first_nine = f"{prefix}{candidate:03d}"
        checks = check_digits(first_nine)
        if checks is not None:
            return first_nine + checks
    raise ValueError("no issuable individual number left from the given one for that date")
