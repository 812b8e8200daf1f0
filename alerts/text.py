"""Words for the reason texts, in bokmål and English.

A nurse reads the reason before the numbers, so it must carry the value, the limit and the
unit in the reader's own conventions (decimal comma in Norwegian). Kept apart from the rules
so a wording change never touches a rule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

Lang = Literal["nb", "en"]

# measurement -> (name nb, name en, unit nb, unit en); names in lower case for mid-sentence use.
_MEASUREMENTS: dict[str, tuple[str, str, str, str]] = {
    "systolic": ("systolisk blodtrykk", "systolic blood pressure", " mmHg", " mmHg"),
    "diastolic": ("diastolisk blodtrykk", "diastolic blood pressure", " mmHg", " mmHg"),
    "heart_rate": ("puls", "heart rate", "/min", "/min"),
    "respiratory_rate": ("respirasjonsfrekvens", "respiratory rate", "/min", "/min"),
    "spo2": ("oksygenmetning", "oxygen saturation", " %", "%"),
    "body_weight": ("kroppsvekt", "body weight", " kg", " kg"),
    "body_temperature": ("kroppstemperatur", "body temperature", " °C", " °C"),
    "glucose": ("blodsukker", "blood glucose", " mmol/L", " mmol/L"),
    "glucose_capillary": ("blodsukker (kapillært)", "capillary glucose", " mmol/L", " mmol/L"),
    "cat_score": ("CAT-skår", "CAT score", " poeng", " points"),
    "copd_more_breathless": ("svar om tungpust", "answer about breathlessness", "", ""),
    "hf_orthopnoea": ("svar om tungpust liggende", "answer about breathlessness lying", "", ""),
    "severe_hypo": ("svar om føling med hjelp", "answer about a hypo that needed help", "", ""),
}

# Answers of a form, stored as readings of 1 (yes) or 0 (no): the nurse reads the
# question and the answer in words, not "1 over the yellow limit 0".
_YES_TO: dict[str, tuple[str, str]] = {
    "copd_more_breathless": (
        "Er du mer tungpusten enn vanlig i dag?",
        "Are you more breathless than usual today?",
    ),
    "hf_orthopnoea": (
        "Blir du tungpusten når du ligger flatt, eller trenger du flere puter for å sove?",
        "Do you get breathless lying flat, or need more pillows to sleep?",
    ),
    "severe_hypo": (
        "Trengte du hjelp fra andre for å komme deg ut av det (føling)?",
        "Did you need help from someone else to recover (hypo)?",
    ),
}


# Measurements a form delivers (its score or an answer): missing one is a missing form,
# and the nurse is told so, with the form's name, rather than "no reading".
FORMS: dict[str, tuple[str, str]] = {
    "cat_score": ("ukeskjemaet om KOLS i hverdagen", "the weekly COPD impact form"),
    "copd_more_breathless": ("det daglige KOLS-skjemaet", "the daily COPD form"),
    "hf_orthopnoea": ("det daglige hjertesviktskjemaet", "the daily heart-failure form"),
    "severe_hypo": ("følingsskjemaet", "the hypo check form"),
}


def is_daily_answer(measurement: str) -> bool:
    """A yes/no question of a daily form: its rule of three counts days, not answers."""
    return measurement in _YES_TO


def answered_yes(measurement: str, run: int, lang: Lang) -> str | None:
    """The reason for a yes that raised a finding, or None for a measured value."""
    question = _YES_TO.get(measurement)
    if question is None:
        return None
    if lang == "nb":
        times = f" ({run} dager på rad)" if run > 1 else ""
        return f"Pasienten svarte ja på «{question[0]}»{times}"
    times = f" ({run} days running)" if run > 1 else ""
    return f'The patient answered yes to "{question[1]}"{times}'


def name(measurement: str, lang: Lang) -> str:
    """Unknown measurements keep their key: a strange word beats a missing one."""
    names = _MEASUREMENTS.get(measurement)
    if names is None:
        return measurement
    return names[0] if lang == "nb" else names[1]


def number(value: float, lang: Lang) -> str:
    """At most two decimals, trailing zeros dropped: 182, 82,5, 2,96 (not a rounded 3,0)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    if text == "-0":
        text = "0"
    return text.replace(".", ",") if lang == "nb" else text


def quantity(measurement: str, value: float, lang: Lang) -> str:
    names = _MEASUREMENTS.get(measurement)
    unit = "" if names is None else names[2] if lang == "nb" else names[3]
    return number(value, lang) + unit


def hours(value: float, lang: Lang) -> str:
    amount = number(round(value, 1), lang)
    if lang == "nb":
        return f"{amount} time" if amount == "1" else f"{amount} timer"
    return f"{amount} hour" if amount == "1" else f"{amount} hours"


def duration(seconds: float, lang: Lang) -> str:
    """Minutes under an hour (a clock off by ten minutes is not "0,2 timer"), else hours."""
    if seconds >= 3600:
        return hours(seconds / 3600, lang)
    minutes = round(seconds / 60)
    if lang == "nb":
        return f"{minutes} minutt" if minutes == 1 else f"{minutes} minutter"
    return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"


def sentence(text: str) -> str:
    """Capitalise the first letter only: "CAT-skår" must stay "CAT-skår"."""
    return text[:1].upper() + text[1:]


def late_note(delay_seconds: float, lang: Lang) -> str:
    if lang == "nb":
        return f" (målingen kom inn {duration(delay_seconds, lang)} etter at den ble tatt)"
    return f" (the reading arrived {duration(delay_seconds, lang)} after it was taken)"


def relation(beyond: bool, high: bool, lang: Lang) -> str:
    """'over'/'above' when past the limit, 'på'/'at' when exactly on it."""
    if not beyond:
        return "på" if lang == "nb" else "at"
    if high:
        return "over" if lang == "nb" else "above"
    return "under" if lang == "nb" else "below"


def colour(severity: str, lang: Lang) -> str:
    nb = {"red": "rød", "yellow": "gul", "green": "grønn"}
    return nb.get(severity, severity) if lang == "nb" else severity


def in_a_row(count: int, lang: Lang) -> str:
    if lang == "nb":
        return f" ({count} avvikende målinger på rad)"
    return f" ({count} deviating readings in a row)"


def both(build: Callable[[Lang], str]) -> tuple[str, str]:
    """Build a text once per language from one function, so the two never drift apart."""
    return (build("nb"), build("en"))


def known_measurement(measurement: str) -> bool:
    """Whether the rules know this measurement (has a name, a unit, perhaps a band)."""
    return measurement in _MEASUREMENTS
