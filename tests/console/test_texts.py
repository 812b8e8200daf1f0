"""Every text of the console is in both catalogues, and dates and numbers are written
the way a reader of each language writes them."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import alerts
from service.console.i18n import LANGS, Texts, catalogue
from service.queue.schemas import Action, EscalationTarget, Outcome
from service.tablet.readings import ENTRIES

SERVICE = Path(__file__).resolve().parents[2] / "service"
# The console's pages and the tablet's share the catalogues.
PAGES = (SERVICE / "console", SERVICE / "tablet")
OSLO = ZoneInfo("Europe/Oslo")


def _literal_keys() -> set[str]:
    keys: set[str] = set()
    for path in [p for folder in PAGES for p in [*folder.rglob("*.html"), *folder.rglob("*.py")]]:
        text = path.read_text("utf-8")
        keys |= set(re.findall(r"""\bt\(\s*["']([a-z_]+\.[a-z_.]+)["']\s*[,)]""", text))
        keys |= set(re.findall(r"""\btexts\(\s*["']([a-z_]+\.[a-z_.]+)["']""", text))
    return keys


def test_both_catalogues_have_the_same_keys_and_no_empty_text() -> None:
    nb, en = catalogue("nb"), catalogue("en")
    assert set(nb) == set(en)
    assert [k for k, v in {**nb, **en}.items() if not v.strip()] == []


@pytest.mark.parametrize("lang", LANGS)
def test_every_key_the_pages_use_is_in_the_catalogue(lang: str) -> None:
    texts = catalogue(lang)
    families = {
        "outcome": [o.value for o in Outcome],
        "action_code": [a.value for a in Action],
        "target": [t.value for t in EscalationTarget],
        "protocol": list(alerts.available_protocols()),
        "severity": ["red", "yellow", "green"],
        "status": ["active", "paused", "ended"],
        "me.colour": ["red", "yellow", "green"],
    }
    fields = [f.measurement for entry in ENTRIES.values() for f in entry.fields]
    families |= {
        "me.reading.title": list(ENTRIES),
        "me.reading.field": fields,
        "me.reading.hint": fields,
        "me.unit": fields,
    }
    wanted = _literal_keys() | {f"{f}.{v}" for f, values in families.items() for v in values}
    wanted |= {"me.messages.from_patient", "me.messages.from_centre"}
    assert sorted(k for k in wanted if k not in texts) == []


def test_dates_and_numbers_in_bokmaal_and_english() -> None:
    moment = datetime(2026, 3, 14, 7, 10, tzinfo=UTC)  # 08:10 in Oslo
    nb, en = Texts("nb", OSLO), Texts("en", OSLO)
    assert nb.datetime(moment) == "14.03.2026 08:10"
    assert en.datetime(moment) == "14/03/2026 08:10"
    assert nb.quantity("body_temperature", 37.8) == "37,8 °C"
    assert en.quantity("body_temperature", 37.8) == "37.8 °C"
    assert nb.reading("systolic", 196, "mm[Hg]") == "196 mmHg"
    assert nb.minutes(75) == "1 t 15 min"
    assert en.minutes(75) == "1 h 15 min"
    assert Texts("xx", OSLO).lang == "nb"  # an unknown language falls back to Bokmål
