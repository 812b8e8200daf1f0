import pytest

from alerts.text import Lang, duration, hours, number, quantity, sentence


@pytest.mark.parametrize(
    ("value", "lang", "text"),
    [
        (182.0, "nb", "182"),
        (82.5, "nb", "82,5"),
        (82.5, "en", "82.5"),
        (2.96, "nb", "2,96"),  # not rounded to a misleading 3,0
        (3.0, "nb", "3"),
        (159.7626, "en", "159.76"),
        (-0.001, "en", "0"),
    ],
)
def test_number(value: float, lang: Lang, text: str) -> None:
    assert number(value, lang) == text


@pytest.mark.parametrize(
    ("measurement", "value", "lang", "text"),
    [
        ("spo2", 88, "nb", "88 %"),
        ("spo2", 88, "en", "88%"),
        ("body_temperature", 38.5, "nb", "38,5 °C"),
        ("cat_score", 21, "nb", "21 poeng"),
        ("unknown", 1.5, "en", "1.5"),
    ],
)
def test_quantity(measurement: str, value: float, lang: Lang, text: str) -> None:
    assert quantity(measurement, value, lang) == text


@pytest.mark.parametrize(
    ("value", "lang", "text"),
    [(1, "nb", "1 time"), (2, "nb", "2 timer"), (1, "en", "1 hour"), (6.5, "en", "6.5 hours")],
)
def test_hours(value: float, lang: Lang, text: str) -> None:
    assert hours(value, lang) == text


@pytest.mark.parametrize(
    ("seconds", "lang", "text"),
    [(60, "nb", "1 minutt"), (660, "en", "11 minutes"), (3600, "nb", "1 time")],
)
def test_duration(seconds: float, lang: Lang, text: str) -> None:
    assert duration(seconds, lang) == text


def test_sentence_keeps_acronyms() -> None:
    assert sentence("CAT-skår 21") == "CAT-skår 21"
    assert sentence("puls 38/min") == "Puls 38/min"
