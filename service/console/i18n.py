"""The console's words and how it writes dates and numbers, per language.

Every text is in ``texts/<lang>.json`` (Bokmål by default, English by a switch), never
in code or templates, so a translator edits one file. Numbers and dates follow the
reader's conventions: ``14.03.2026 08:10`` and ``37,8`` in Bokmål, ``14/03/2026 08:10``
and ``37.8`` in English, always in the centre's local time zone.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from alerts import text as alert_text

LANGS = ("nb", "en")
DEFAULT_LANG = "nb"
TEXTS_DIR = Path(__file__).resolve().parent / "texts"


@functools.cache
def catalogue(lang: str) -> dict[str, str]:
    loaded: dict[str, str] = json.loads((TEXTS_DIR / f"{lang}.json").read_text("utf-8"))
    return loaded


def pick(lang: str | None) -> str:
    return lang if lang in LANGS else DEFAULT_LANG


class Texts:
    """``t("queue.title")`` in templates; also the date and number formats."""

    def __init__(self, lang: str, zone: ZoneInfo) -> None:
        self.lang = pick(lang)
        self.zone = zone
        self._texts = catalogue(self.lang)

    def __call__(self, key: str, **values: Any) -> str:
        text = self._texts.get(key)
        if text is None:
            return key  # a visible key beats a silent gap; tests check both catalogues
        if not values:
            return text
        # A decimal in a text is written the reader's way (0,5 in Bokmål).
        shown = {k: self.number(v) if isinstance(v, float) else v for k, v in values.items()}
        return text.format(**shown)

    def has(self, key: str) -> bool:
        return key in self._texts

    def datetime(self, moment: dt.datetime | None) -> str:
        if moment is None:
            return ""
        local = moment.astimezone(self.zone)
        return local.strftime("%d.%m.%Y %H:%M" if self.lang == "nb" else "%d/%m/%Y %H:%M")

    def date(self, moment: dt.datetime | dt.date | None) -> str:
        if moment is None:
            return ""
        local = moment.astimezone(self.zone) if isinstance(moment, dt.datetime) else moment
        return local.strftime("%d.%m.%Y" if self.lang == "nb" else "%d/%m/%Y")

    def time(self, moment: dt.datetime) -> str:
        return moment.astimezone(self.zone).strftime("%H:%M")

    def iso_local(self, moment: dt.datetime) -> str:
        """For ``<input type="datetime-local">``: the browser shows it in its own form."""
        return moment.astimezone(self.zone).strftime("%Y-%m-%dT%H:%M")

    def number(self, value: float | None) -> str:
        return "" if value is None else alert_text.number(value, self.lang)  # type: ignore[arg-type]

    def shown(self, value: float | None) -> str:
        """An evaluation figure: None only where the small-number rule hid it."""
        return "<5" if value is None else self.number(value)

    def quantity(self, measurement: str, value: float | None) -> str:
        if value is None:
            return ""
        return alert_text.quantity(measurement, value, self.lang)  # type: ignore[arg-type]

    def reading(self, measurement: str, value: float, ucum_unit: str) -> str:
        """In the unit a nurse writes (mmHg, not UCUM's mm[Hg]) where we know it."""
        if alert_text.name(measurement, "nb") != measurement:
            return self.quantity(measurement, value)
        return f"{self.number(value)} {ucum_unit}".strip()

    def measurement(self, key: str | None) -> str:
        if key is None:
            return ""
        name = alert_text.name(key, self.lang)  # type: ignore[arg-type]
        return name[:1].upper() + name[1:]

    def minutes(self, minutes: float | None) -> str:
        if minutes is None:
            return ""
        whole = round(minutes)
        hours, rest = divmod(whole, 60)
        if hours == 0:
            return self("time.minutes", n=whole)
        if hours < 48:
            return self("time.hours_minutes", h=hours, m=rest)
        return self("time.days", n=hours // 24)
