"""Identity numbers: table-driven examples plus properties that cover the whole number space.

All numbers here are either public worked examples or made by the generator; none belongs to a
real person as far as we know, but the code under test must treat them as if they did.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import date

import pytest
from hypothesis import given, reject
from hypothesis import strategies as st

from service.patients.identity_number import (
    DNR_SYSTEM,
    FNR_SYSTEM,
    IdentityNumber,
    InvalidIdentityNumber,
    check_digits,
    generate_identity_number,
    is_valid,
    parse_identity_number,
)

# Known-valid numbers, each verified by hand below so that the table does not merely repeat
# the implementation. k1 weights 3 7 6 1 8 9 4 5 2 over digits 1-9; k2 weights
# 5 4 3 2 7 6 5 4 3 2 over digits 1-10; check digit = 11 - (sum mod 11), 11 written as 0.
#
# 31129956715 (worked example on fnrinfo.no):
#   k1: 3*3+1*7+1*6+2*1+9*8+9*9+5*4+6*5+7*2 = 241 = 21*11+10 -> 11-10 = 1
#   k2: 3*5+1*4+1*3+2*2+9*7+9*6+5*5+6*4+7*3+1*2 = 215 = 19*11+6 -> 11-6 = 5
#   individual 567 with year 99 -> 1899; digit 9 is 7, odd -> male
# 13097248022:
#   k1: 1*3+3*7+0*6+9*1+7*8+2*9+4*4+8*5+0*2 = 163 = 14*11+9 -> 2
#   k2: 1*5+3*4+0*3+9*2+7*7+2*6+4*5+8*4+0*3+2*2 = 152 = 13*11+9 -> 2
#   individual 480 -> 1972; digit 9 is 0, even -> female
# 53097248016 (the same date as a D-number: 5 = 1 + 4):
#   k1: 5*3+3*7+0*6+9*1+7*8+2*9+4*4+8*5+0*2 = 175 = 15*11+10 -> 1
#   k2: 5*5+3*4+0*3+9*2+7*7+2*6+4*5+8*4+0*3+1*2 = 170 = 15*11+5 -> 6
# 01010750160 (k2 shows the "11 means 0" rule):
#   k1: 0*3+1*7+0*6+1*1+0*8+7*9+5*4+0*5+1*2 = 93 = 8*11+5 -> 6
#   k2: 0*5+1*4+0*3+1*2+0*7+7*6+5*5+0*4+1*3+6*2 = 88 = 8*11+0 -> 11 -> 0
#   individual 501 with year 07 -> 2007; digit 9 is 1 -> male
# 29020075838 (29 February of a leap year that is a century):
#   k1: 2*3+9*7+0*6+2*1+0*8+0*9+7*4+5*5+8*2 = 140 = 12*11+8 -> 3
#   k2: 2*5+9*4+0*3+2*2+0*7+0*6+7*5+5*4+8*3+3*2 = 135 = 12*11+3 -> 8
#   individual 758 with year 00 -> 2000; digit 9 is 8 -> female
# 17912099997 (Skatteetaten/Tenor synthetic: month 91 = 11 + 80):
#   k1: 1*3+7*7+9*6+1*1+2*8+0*9+9*4+9*5+9*2 = 222 = 20*11+2 -> 9
#   k2: 1*5+7*4+9*3+1*2+2*7+0*6+9*5+9*4+9*3+9*2 = 202 = 18*11+4 -> 7
#   individual 999 with year 20 -> 2020; digit 9 is 9 -> male
# 01419000066 (NAV synthetic: month 41 = 1 + 40):
#   k1: 0*3+1*7+4*6+1*1+9*8+0*9+0*4+0*5+0*2 = 104 = 9*11+5 -> 6
#   k2: 0*5+1*4+4*3+1*2+9*7+0*6+0*5+0*4+0*3+6*2 = 93 = 8*11+5 -> 6
HAND_CHECKED_VALID = [
    ("31129956715", "fnr", date(1899, 12, 31), "male", False),
    ("13097248022", "fnr", date(1972, 9, 13), "female", False),
    ("53097248016", "dnr", date(1972, 9, 13), "female", False),
    ("01010750160", "fnr", date(2007, 1, 1), "male", False),
    ("29020075838", "fnr", date(2000, 2, 29), "female", False),
    ("17912099997", "fnr", date(2020, 11, 17), "male", True),
    ("01419000066", "fnr", date(1990, 1, 1), "female", True),
    # Computed by check_digits() for the cases above don't cover: a D-number on the last day
    # of the year, and a synthetic D-number.
    ("71129000370", "dnr", date(1990, 12, 31), "male", False),
    ("41919000323", "dnr", date(1990, 11, 1), "male", True),
]

# (birth date, first individual number to try, female): one generated number each, chosen so
# that every century rule is hit.
GENERATED_CASES = [
    (date(1854, 1, 1), 500, None),  # 500-749, year 54-99 -> 1800s
    (date(1899, 12, 31), 700, True),
    (date(1900, 1, 1), 0, False),  # 000-499 -> 1900s
    (date(1939, 6, 30), 250, None),
    (date(1940, 3, 15), 900, True),  # 900-999, year 40-99 -> 1900s
    (date(1999, 12, 31), 0, None),
    (date(2000, 2, 29), 500, False),  # 500-999, year 00-39 -> 2000s
    (date(2039, 12, 31), 950, True),
]

INVALID = [
    pytest.param("", "not 11 digits", id="empty"),
    pytest.param("3112995671", "not 11 digits", id="10-digits"),
    pytest.param("311299567150", "not 11 digits", id="12-digits"),
    pytest.param("3112995671a", "not 11 digits", id="letter"),
    pytest.param("31129956715 ", "not 11 digits", id="trailing-space"),
    pytest.param("31129956715\n", "not 11 digits", id="trailing-newline"),
    pytest.param("311299 56715", "not 11 digits", id="inner-space"),
    # Arabic-Indic digits: str.isdigit() and \d accept them, int() converts them.
    pytest.param("٣١١٢٩٩٥٦٧١٥", "not 11 digits", id="non-ascii-digits"),
    pytest.param("31129956725", "check digit does not match", id="k1-wrong"),
    pytest.param("31129956714", "check digit does not match", id="k2-wrong"),
    # 0*3+1*7+0*6+1*1+9*8+0*9+0*4+1*5+2*2 = 89 = 8*11+1 -> k1 would be 10: never issued.
    pytest.param("01019001200", "check digit does not match", id="k1-would-be-10"),
    # k1 = 5; 0*5+1*4+0*3+1*2+9*7+0*6+0*5+0*4+7*3+5*2 = 100 = 9*11+1 -> k2 would be 10.
    pytest.param("01019000750", "check digit does not match", id="k2-would-be-10"),
    pytest.param("31029000339", "no such birth date", id="31-february"),
    pytest.param("29020001281", "no such birth date", id="29-february-1900"),
    pytest.param("01009000093", "no such birth date", id="month-00"),
    pytest.param("00129000082", "no such birth date", id="day-00"),
    pytest.param("01139000001", "no such birth date", id="month-13"),
    pytest.param("72019000029", "no such birth date", id="d-number-day-32"),
    pytest.param("01539000094", "no such birth date", id="nav-synthetic-month-13"),
    pytest.param("01939000077", "no such birth date", id="tenor-synthetic-month-13"),
    pytest.param("01015080082", "not issued for that birth year", id="individual-800-year-50"),
]


@pytest.mark.parametrize(("value", "kind", "birth_date", "sex", "synthetic"), HAND_CHECKED_VALID)
def test_hand_checked_numbers_parse(
    value: str, kind: str, birth_date: date, sex: str, synthetic: bool
) -> None:
    parsed = parse_identity_number(value)
    assert parsed == IdentityNumber(value, kind, birth_date, sex, synthetic)  # type: ignore[arg-type]
    assert is_valid(value)
    assert check_digits(value[:9]) == value[9:]


@pytest.mark.parametrize(("birth_date", "individual", "female"), GENERATED_CASES)
def test_generated_numbers_parse(birth_date: date, individual: int, female: bool | None) -> None:
    value = generate_identity_number(birth_date, individual, female=female)
    parsed = parse_identity_number(value)
    assert parsed.kind == "fnr"
    assert parsed.birth_date == birth_date
    assert not parsed.synthetic
    if female is not None:
        assert parsed.sex == ("female" if female else "male")


@pytest.mark.parametrize(("value", "reason"), INVALID)
def test_invalid_numbers_are_rejected_without_echoing_them(value: str, reason: str) -> None:
    with pytest.raises(InvalidIdentityNumber, match=reason) as raised:
        parse_identity_number(value)
    assert not is_valid(value)
    if value.strip():
        assert value.strip() not in str(raised.value)
        assert value.strip() not in repr(raised.value)
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__ or raised.value.__context__ is None


def test_invalid_identity_number_is_a_value_error() -> None:
    # Callers that only know ValueError (pydantic validators) must still catch it.
    assert issubclass(InvalidIdentityNumber, ValueError)


@pytest.mark.parametrize("value", [12345678901, None, b"31129956715"])
def test_non_strings_are_rejected(value: object) -> None:
    with pytest.raises(InvalidIdentityNumber, match="not 11 digits"):
        parse_identity_number(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["17912099997", "01419000066", "41919000323"])
def test_synthetic_numbers_can_be_refused(value: str) -> None:
    with pytest.raises(InvalidIdentityNumber, match="synthetic") as raised:
        parse_identity_number(value, allow_synthetic=False)
    assert value not in str(raised.value)
    assert not is_valid(value, allow_synthetic=False)
    assert is_valid(value)


def test_real_numbers_pass_when_synthetic_ones_are_refused() -> None:
    assert parse_identity_number("31129956715", allow_synthetic=False).kind == "fnr"
    assert parse_identity_number("53097248016", allow_synthetic=False).kind == "dnr"


def test_system_follows_kind() -> None:
    assert parse_identity_number("13097248022").system == FNR_SYSTEM
    assert parse_identity_number("53097248016").system == DNR_SYSTEM


def test_repr_and_str_do_not_reveal_the_number() -> None:
    parsed = parse_identity_number("13097248022")
    assert "13097248022" not in repr(parsed)
    assert "13097248022" not in str(parsed)
    assert "1972" not in repr(parsed)


def test_identity_number_is_immutable() -> None:
    parsed = parse_identity_number("13097248022")
    with pytest.raises(FrozenInstanceError):
        parsed.value = "31129956715"  # type: ignore[misc]


def test_generator_skips_individual_numbers_whose_check_digit_would_be_10() -> None:
    # 010190007 has k2 = 10 (see INVALID), so the next individual number, 008, is used.
    assert generate_identity_number(date(1990, 1, 1), 7) == "01019000830"
    # 011 has k2 = 10 and 012 has k1 = 10; 013 is the next issuable one.
    assert generate_identity_number(date(1990, 1, 1), 11) == "01019001381"


def test_generator_respects_sex() -> None:
    assert parse_identity_number(
        generate_identity_number(date(1990, 1, 1), 0, female=True)
    ).sex == ("female")
    assert parse_identity_number(
        generate_identity_number(date(1990, 1, 1), 0, female=False)
    ).sex == ("male")


def test_generator_makes_d_numbers() -> None:
    value = generate_identity_number(date(1990, 12, 31), 3, kind="dnr")
    assert value == "71129000370"
    assert parse_identity_number(value).kind == "dnr"


def test_generator_skips_individual_numbers_of_another_century() -> None:
    # 1940-1999 uses 000-499 and 900-999; starting at 500 must land in 900-999.
    value = generate_identity_number(date(1950, 5, 17), 500)
    assert int(value[6:9]) >= 900
    assert parse_identity_number(value).birth_date == date(1950, 5, 17)


@pytest.mark.parametrize(
    ("birth_date", "individual"),
    [
        pytest.param(date(1853, 12, 31), 500, id="before-1854"),
        pytest.param(date(2040, 1, 1), 500, id="after-2039"),
        pytest.param(date(1990, 1, 1), -1, id="individual-negative"),
        pytest.param(date(1990, 1, 1), 1000, id="individual-1000"),
        # 030100999: k1 = 0 (sum 121 = 11*11), k2 sum 122 = 11*11+1 -> 10; nothing follows 999.
        pytest.param(date(2000, 1, 3), 999, id="nothing-left"),
    ],
)
def test_generator_refuses_what_cannot_be_encoded(birth_date: date, individual: int) -> None:
    with pytest.raises(ValueError, match=r"individual number|birth years"):
        generate_identity_number(birth_date, individual)


@pytest.mark.parametrize("first_nine", ["", "12345678", "1234567890", "12345678a"])
def test_check_digits_needs_nine_digits(first_nine: str) -> None:
    with pytest.raises(ValueError, match="9 digits"):
        check_digits(first_nine)


_BIRTH_DATES = st.dates(min_value=date(1854, 1, 1), max_value=date(2039, 12, 31))


@given(
    birth_date=_BIRTH_DATES,
    individual=st.integers(min_value=0, max_value=999),
    female=st.none() | st.booleans(),
    kind=st.sampled_from(["fnr", "dnr"]),
)
def test_every_generated_number_parses_back(
    birth_date: date, individual: int, female: bool | None, kind: str
) -> None:
    try:
        value = generate_identity_number(birth_date, individual, female=female, kind=kind)  # type: ignore[arg-type]
    except ValueError:
        reject()  # started too close to 999 for this date; not what this property is about
    parsed = parse_identity_number(value, allow_synthetic=False)
    assert parsed.birth_date == birth_date
    assert parsed.kind == kind
    assert parsed.value == value
    if female is not None:
        assert parsed.sex == ("female" if female else "male")
    assert parsed.sex == ("female" if int(value[8]) % 2 == 0 else "male")


@given(
    birth_date=_BIRTH_DATES,
    individual=st.integers(min_value=0, max_value=999),
    kind=st.sampled_from(["fnr", "dnr"]),
)
def test_every_single_digit_change_is_detected(
    birth_date: date, individual: int, kind: str
) -> None:
    """Both weight vectors are non-zero mod 11, and 11 is prime, so changing one digit by
    1-9 always changes its weighted sum mod 11, and so the check digit it implies."""
    try:
        value = generate_identity_number(birth_date, individual, kind=kind)  # type: ignore[arg-type]
    except ValueError:
        reject()
    for position in range(11):
        for digit in "0123456789":
            if digit == value[position]:
                continue
            mutant = value[:position] + digit + value[position + 1 :]
            with pytest.raises(InvalidIdentityNumber, match="check digit does not match"):
                parse_identity_number(mutant)
            assert not is_valid(mutant)
